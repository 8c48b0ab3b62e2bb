DROP TABLE audit_events;
DROP TABLE user_groups;
DROP TABLE user_roles;
