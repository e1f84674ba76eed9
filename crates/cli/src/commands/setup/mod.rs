//! `aws-sso setup ...`: configuring aws-sso.

pub mod ecs_auth;
pub mod ecs_ssl;
