//! The authorization endpoint (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9207).
//!
//! The request is parsed into an [`AuthRequest`] first. An unknown client or a redirect URI that
//! does not match is shown as an error page and never redirected to; every later error is
//! redirected to the matched URI with `error`, `state` and `iss`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::clock;
use crate::crypto::random;
use crate::db::clients::Client;
use crate::db::codes::AuthCode;
use crate::db::sessions::Session;
use crate::db::{self, DbError};
use crate::domain::params::{ParamError, Params};
use crate::domain::redirect;
use crate::domain::scope::Scopes;
use crate::error::ErrorCode;
use crate::state::AppState;
use crate::web::pages::error_page;
use crate::web::{login, session, unavailable};

/// Authorization codes live this long (SECURITY.md: at most 60 s).
pub const CODE_TTL: i64 = 60;

/// Parameters the consent form carries back; everything else is dropped.
const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "max_age",
    "response_mode",
];

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scope: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    params: Params,
}

/// Why an authorization request was refused, and how the refusal is delivered.
#[derive(Debug)]
pub enum AuthError {
    /// Shown to the person; the redirect URI is not trusted.
    Page(String),
    /// Sent back to the matched redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        code: ErrorCode,
        description: String,
    },
    Db(DbError),
}

impl From<DbError> for AuthError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

/// Whether `s` is a PKCE code challenge or verifier: 43-128 unreserved characters.
pub fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Parses and validates a request against the registered client.
pub async fn validate(state: &AppState, raw: &[u8]) -> Result<AuthRequest, AuthError> {
    let (params, repeated) = match Params::parse(raw) {
        Ok(p) => (p, None),
        Err(ParamError::Repeated(name)) => (Params::parse_first(raw), Some(name)),
        Err(e) => return Err(AuthError::Page(format!("The request is malformed: {e}."))),
    };
    if let Some(name) = &repeated
        && (name == "client_id" || name == "redirect_uri")
    {
        return Err(AuthError::Page(format!(
            "The parameter {name} is repeated."
        )));
    }
    let Some(client_id) = params.get("client_id").map(str::to_string) else {
        return Err(AuthError::Page(
            "The request does not name a client (client_id).".into(),
        ));
    };
    let client = state
        .db
        .run(move |conn| db::clients::find(conn, &client_id).map_err(DbError::from))
        .await?
        .ok_or_else(|| AuthError::Page("The application is not registered here.".into()))?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if redirect::matches(&client.redirect_uris, uri) => uri.to_string(),
        Some(_) => {
            return Err(AuthError::Page(
                "The redirect URI is not registered for this application.".into(),
            ));
        }
        None => return Err(AuthError::Page("The request has no redirect_uri.".into())),
    };
    let state_param = params.get("state").map(str::to_string);
    let fail = |code: ErrorCode, description: &str| AuthError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state_param.clone(),
        code,
        description: description.to_string(),
    };
    if let Some(name) = repeated {
        return Err(fail(
            ErrorCode::InvalidRequest,
            &format!("parameter {name} is repeated"),
        ));
    }
    if params.contains("request") {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.contains("request_uri") {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
        None => return Err(fail(ErrorCode::InvalidRequest, "response_type is required")),
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        ));
    }
    let scope = Scopes::parse(params.get("scope").unwrap_or(""))
        .map_err(|e| fail(ErrorCode::InvalidScope, &e))?;
    if !scope.contains("openid") {
        return Err(fail(ErrorCode::InvalidScope, "scope must include openid"));
    }
    if !scope.all_in(&client.scopes) {
        return Err(fail(
            ErrorCode::InvalidScope,
            "a requested scope is not allowed for this client",
        ));
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(c), Some("S256")) if is_pkce_value(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge is malformed",
            ));
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (_, Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256 with a code_challenge",
            ));
        }
        (None, None) => None,
    };
    if client.is_public() && code_challenge.is_none() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "PKCE (code_challenge, S256) is required",
        ));
    }
    let nonce = params.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(fail(ErrorCode::InvalidRequest, "nonce is too long"));
    }
    let mut prompt = (false, false, false);
    for value in params
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        match value {
            "none" => prompt.0 = true,
            "login" => prompt.1 = true,
            "consent" => prompt.2 = true,
            "select_account" => {}
            _ => return Err(fail(ErrorCode::InvalidRequest, "unknown prompt value")),
        }
    }
    if prompt.0 && (prompt.1 || prompt.2) {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined",
        ));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "max_age must be a whole number of seconds",
            )
        })? as i64),
    };
    Ok(AuthRequest {
        client,
        redirect_uri,
        scope,
        state: state_param,
        nonce,
        code_challenge,
        prompt_none: prompt.0,
        prompt_login: prompt.1,
        prompt_consent: prompt.2,
        max_age,
        params,
    })
}

impl AuthRequest {
    /// The hidden fields the consent form carries back.
    pub fn carried_fields(&self) -> Vec<(String, String)> {
        self.params
            .pairs()
            .filter(|(k, _)| CARRIED.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Where the login page returns to: this request, without the `prompt=login` or `max_age`
    /// that sent the browser there (so it does not loop; the new sign-in satisfies both, and
    /// its `auth_time` is in the ID token).
    fn return_to(&self) -> String {
        let mut query = self.params.encode_without(&["prompt", "max_age"]);
        if self.prompt_consent {
            query.push_str("&prompt=consent");
        }
        format!("/authorize?{query}")
    }
}

/// Builds the redirect to the client with `pairs`, plus `state` and `iss`.
pub fn redirect_to_client(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state_param: Option<&str>,
    issuer: &str,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The redirect URI is not valid.",
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state_param {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    HttpResponse::build(status)
        .insert_header((header::LOCATION, url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Turns an [`AuthError`] into its answer.
pub fn error_response(state: &AppState, err: AuthError, status: StatusCode) -> HttpResponse {
    match err {
        AuthError::Page(message) => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request cannot be used",
            &message,
        ),
        AuthError::Redirect {
            redirect_uri,
            state: st,
            code,
            description,
        } => redirect_to_client(
            &redirect_uri,
            &[
                ("error", code.as_str()),
                ("error_description", &description),
            ],
            st.as_deref(),
            &state.config.issuer,
            status,
        ),
        AuthError::Db(e) => unavailable(e),
    }
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(
        req.clone(),
        state,
        req.query_string().as_bytes().to_vec(),
        StatusCode::FOUND,
    )
    .await
}

/// POST is answered with 303, so the browser never re-posts to the client (RFC 9700 4.12).
pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    handle(req, state, body.to_vec(), StatusCode::SEE_OTHER).await
}

async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: Vec<u8>,
    status: StatusCode,
) -> HttpResponse {
    let now = clock::now();
    let request = match validate(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return error_response(&state, e, status),
    };
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    // max_age=0 asks for a new sign-in every time, like prompt=login (OIDC Core 3.1.2.1).
    let fresh_enough = |s: &Session| {
        request
            .max_age
            .is_none_or(|max| max > 0 && now - s.auth_time <= max)
    };
    let session = match browser.session.as_ref() {
        Some(s) if !request.prompt_login && fresh_enough(s) => s.clone(),
        _ if request.prompt_none => {
            return error_response(
                &state,
                redirect_error(
                    &request,
                    ErrorCode::LoginRequired,
                    "the person is not signed in",
                ),
                status,
            );
        }
        _ => {
            return HttpResponse::build(StatusCode::SEE_OTHER)
                .insert_header((header::LOCATION, login::login_url(&request.return_to())))
                .finish();
        }
    };
    let needs_consent = match consent_needed(&state, &request, &session).await {
        Ok(n) => n,
        Err(e) => return unavailable(e),
    };
    if needs_consent {
        if request.prompt_none {
            return error_response(
                &state,
                redirect_error(&request, ErrorCode::ConsentRequired, "consent is required"),
                status,
            );
        }
        return super::consent::show(&state, &browser, &request, &session).await;
    }
    issue_code(&state, &request, &session, now, status).await
}

/// An error to send back to the matched redirect URI.
pub fn redirect_error(request: &AuthRequest, code: ErrorCode, description: &str) -> AuthError {
    AuthError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        code,
        description: description.to_string(),
    }
}

/// Whether the person must be asked: never for first-party clients; otherwise when asked to,
/// or when the remembered consent does not cover every requested scope.
async fn consent_needed(
    state: &AppState,
    request: &AuthRequest,
    session: &Session,
) -> Result<bool, DbError> {
    if request.client.first_party {
        return Ok(false);
    }
    if request.prompt_consent {
        return Ok(true);
    }
    let (user_id, client_id) = (session.user_id.clone(), request.client.id.clone());
    let granted = state
        .db
        .run(move |conn| db::consents::granted(conn, &user_id, &client_id).map_err(DbError::from))
        .await?;
    Ok(match granted.and_then(|g| Scopes::parse(&g).ok()) {
        Some(granted) => !request.scope.is_subset_of(&granted),
        None => true,
    })
}

/// Stores a single-use code bound to the request and the session, and sends it to the client.
pub async fn issue_code(
    state: &AppState,
    request: &AuthRequest,
    session: &Session,
    now: i64,
    status: StatusCode,
) -> HttpResponse {
    let code = random::token();
    let row = AuthCode {
        code_hash: random::hash(&code),
        client_id: request.client.id.clone(),
        user_id: session.user_id.clone(),
        sid: session.sid.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.to_string(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        created_at: now,
        expires_at: now + CODE_TTL,
        consumed_at: None,
        access_jti: None,
        refresh_family: None,
    };
    if let Err(e) = state
        .db
        .run(move |conn| db::codes::insert(conn, &row).map_err(DbError::from))
        .await
    {
        return unavailable(e);
    }
    tracing::info!(client_id = %request.client.id, user_id = %session.user_id, "Issued an authorization code.");
    redirect_to_client(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        &state.config.issuer,
        status,
    )
}
