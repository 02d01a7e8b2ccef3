//! Puente's integration tests: one binary, a real PostgreSQL (a fresh database per test via
//! `#[sqlx::test]`, from `DATABASE_URL`), a real Docker engine where a test needs one.
#![allow(clippy::unwrap_used)]

mod agency;
mod audit;
mod auth;
mod authz;
mod cli;
mod errors;
mod hardening;
mod health;
mod helpers;
mod inbox;
mod lifecycle;
mod links;
mod listeners;
mod logs;
mod messages;
mod moderation;
mod properties;
mod quotas;
mod realtime;
mod retention;
mod runtime;
mod swarm;
mod waha_client;
mod web;
mod webhooks;
