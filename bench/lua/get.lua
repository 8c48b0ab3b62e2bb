-- GET of the URL given to wrk (discovery, JWKS); BENCH_BEARER adds an access token (userinfo).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local bearer = os.getenv("BENCH_BEARER")
if bearer and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
end
