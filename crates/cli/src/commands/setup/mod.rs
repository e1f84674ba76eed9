//! `aws-sso setup ...`: configuring aws-sso.

pub mod cert;
pub mod cert_api_key;
pub mod cert_export_csr;
pub mod cert_fqdn;
pub mod cert_load;
pub mod cert_renew;
pub mod cert_sign_csr;
pub mod cert_status;
pub mod ecs_auth;
pub mod ecs_ssl;
