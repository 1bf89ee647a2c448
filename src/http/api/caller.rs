//! The API's caller, as an extractor: authentication and both rate limits are applied once,
//! before the handler runs (and before its body is read), and the route's least role is part of
//! the handler's signature (`Authed<Sre>`).

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::auth::{AuthError, Caller, Role, authenticate};
use crate::app::App;
use crate::http::client::client_ip;
use crate::http::error::ApiError;

/// The least role a route needs.
pub trait AtLeast {
    const ROLE: Role;
}

macro_rules! roles {
    ($($name:ident),*) => {$(
        #[doc = concat!("Role ", stringify!($name), " or above.")]
        pub struct $name;
        impl AtLeast for $name {
            const ROLE: Role = Role::$name;
        }
    )*};
}
roles!(Viewer, Developer, Sre, Admin);

/// An authenticated caller with role `R` or above, and the address it called from (through
/// `api.trusted_proxies`).
pub struct Authed<R> {
    pub caller: Caller,
    pub client: IpAddr,
    role: PhantomData<R>,
}

impl<R: AtLeast> FromRequestParts<Arc<App>> for Authed<R> {
    type Rejection = ApiError;

    /// Authenticates, then limits: a request without a valid token counts against its client
    /// address (so guessing is slow), one with a valid token against its subject only (so
    /// nobody can lock a valid token out by flooding from its address); then checks the role.
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let live = app.live.get();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), |c| c.0);
        let client = client_ip(peer, &parts.headers, &live.api.trusted_proxies);
        let retry = |wait: std::time::Duration| ApiError::TooManyRequests(wait.as_secs() + 1);
        let now = app.clock.now().timestamp();
        let jwt = &live.api.jwt;
        let headers = &parts.headers;
        let authenticated = match authenticate(jwt, &app.jwks.keys(), headers, now) {
            // A key we have not seen: the JWKS may have rotated since we fetched it.
            Err(AuthError::UnknownKey(_)) if app.jwks.refresh_for_unknown().await => {
                authenticate(jwt, &app.jwks.keys(), headers, now)
            }
            other => other,
        };
        let caller = match authenticated {
            Ok(caller) => caller,
            Err(why) => {
                app.api_limits
                    .check("client", &client.to_string())
                    .map_err(retry)?;
                return Err(ApiError::from(why));
            }
        };
        app.api_limits
            .check("subject", &caller.sub)
            .map_err(retry)?;
        if caller.role < R::ROLE {
            return Err(ApiError::Forbidden(format!(
                "role {} may not do this (needs {} or above)",
                caller.role.as_str(),
                R::ROLE.as_str()
            )));
        }
        Ok(Authed {
            caller,
            client,
            role: PhantomData,
        })
    }
}
