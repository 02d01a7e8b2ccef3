//! Accounts and authentication: roles, password hashing, access and refresh tokens, the
//! extractors that state who may call a handler, and the login rate limiter.
//!
//! Layout:
//! - [`password`] — argon2id hashing and the password policy.
//! - [`tokens`] — HS256 access tokens (JWT) and opaque refresh tokens (stored hashed).
//! - [`extract`] — [`extract::AuthUser`] and the role guards used by every protected handler.
//! - [`ratelimit`] — keyed token buckets for login attempts (per IP and per account).
//! - [`service`] — register, login, refresh (rotation with reuse detection), logout.

pub mod extract;
pub mod password;
pub mod ratelimit;
pub mod service;
pub mod tokens;

pub use crate::model::Role;
