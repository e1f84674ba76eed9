//! `TempHome`: a throwaway user home (HOME, XDG_CONFIG_HOME, ~/.aws files) and the clean
//! environment a child process gets from it, plus random fake AWS credentials.
//! Nothing from the machine's own home or environment leaks into a child.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A temporary home directory laid out like a user's.
#[derive(Debug)]
pub struct TempHome {
    dir: TempDir,
    file_password: String,
}

impl TempHome {
    /// Creates `<tmp>/.config` and `<tmp>/.aws` and a random file-store password.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("aws-sso-home-")
            .tempdir()
            .expect("create temp home");
        std::fs::create_dir_all(dir.path().join(".config")).expect("mkdir .config");
        std::fs::create_dir_all(dir.path().join(".aws")).expect("mkdir .aws");
        Self {
            dir,
            file_password: random_string(32, ALNUM),
        }
    }

    /// `HOME`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `XDG_CONFIG_HOME` (`<home>/.config`).
    pub fn config_dir(&self) -> PathBuf {
        self.path().join(".config")
    }

    /// `AWS_CONFIG_FILE` (`<home>/.aws/config`).
    pub fn aws_config_file(&self) -> PathBuf {
        self.path().join(".aws/config")
    }

    /// `AWS_SHARED_CREDENTIALS_FILE` (`<home>/.aws/credentials`).
    pub fn aws_credentials_file(&self) -> PathBuf {
        self.path().join(".aws/credentials")
    }

    /// The `AWS_SSO_FILE_PASSWORD` children get.
    pub fn file_password(&self) -> &str {
        &self.file_password
    }

    /// The whole environment a child gets (see [`TempHome::apply`]).
    pub fn envs(&self) -> Vec<(String, String)> {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        vec![
            ("PATH".into(), path),
            ("HOME".into(), s(self.path().to_path_buf())),
            ("XDG_CONFIG_HOME".into(), s(self.config_dir())),
            ("AWS_CONFIG_FILE".into(), s(self.aws_config_file())),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                s(self.aws_credentials_file()),
            ),
            ("AWS_SSO_SECURE_STORE".into(), "file".into()),
            ("AWS_SSO_FILE_PASSWORD".into(), self.file_password.clone()),
            ("AWS_SSO_FILE_SCRYPT_WORK_FACTOR".into(), "10".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// Clears `cmd`'s environment and sets only [`TempHome::envs`].
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env_clear().envs(self.envs())
    }

    /// Appends a `[profile]` section with static keys to the shared credentials file.
    pub fn write_credentials(
        &self,
        profile: &str,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) {
        let mut section = format!(
            "[{profile}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"
        );
        if let Some(token) = session_token {
            section.push_str(&format!("aws_session_token = {token}\n"));
        }
        let path = self.aws_credentials_file();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.write_all(section.as_bytes())
            .expect("write credentials");
    }

    /// Replaces the AWS config file with `text`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.aws_config_file(), text).expect("write AWS config");
    }
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Fresh fake temporary credentials: (`ASIA` + 16 upper alnum, 40-char secret, 64-char token).
/// The secret and token use the base64 alphabet, like real ones, so `+` and `/` appear.
pub fn random_creds() -> (String, String, String) {
    (
        format!("ASIA{}", random_string(16, UPPER_ALNUM)),
        random_string(40, BASE64),
        random_string(64, BASE64),
    )
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling over /dev/urandom).
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let limit = 256 - 256 % alphabet.len();
    let mut urandom = std::fs::File::open("/dev/urandom").expect("open /dev/urandom");
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        urandom.read_exact(&mut buf).expect("read /dev/urandom");
        for b in buf.iter().map(|&b| usize::from(b)).filter(|&b| b < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[b % alphabet.len()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_creds_have_the_aws_shapes() {
        let (akid, secret, token) = random_creds();
        assert_eq!(akid.len(), 20);
        assert!(akid.starts_with("ASIA"));
        assert!(akid.bytes().all(|b| UPPER_ALNUM.contains(&b)));
        assert_eq!(secret.len(), 40);
        assert_eq!(token.len(), 64);
        assert_ne!(random_creds().1, secret);
    }

    #[test]
    fn apply_gives_a_child_only_the_home_environment() {
        let home = TempHome::new();
        let mut cmd = Command::new("env");
        cmd.env("LEAK_MARKER", "1");
        let out = home.apply(&mut cmd).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains("LEAK_MARKER"), "{text}");
        assert!(text.contains(&format!("HOME={}\n", home.path().display())));
        assert!(text.contains("AWS_SSO_SECURE_STORE=file\n"));
        assert!(text.contains(&format!("AWS_SSO_FILE_PASSWORD={}\n", home.file_password())));
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        assert_eq!(names.len(), home.envs().len(), "{text}");
    }

    #[test]
    fn credentials_file_gets_one_section_per_profile() {
        let home = TempHome::new();
        let (a, s, t) = random_creds();
        home.write_credentials("one", &a, &s, Some(&t));
        home.write_credentials("two", &a, &s, None);
        let text = std::fs::read_to_string(home.aws_credentials_file()).unwrap();
        assert!(text.contains(&format!("[one]\naws_access_key_id = {a}\n")));
        assert!(text.contains(&format!("aws_session_token = {t}\n[two]\n")));
        assert_eq!(text.matches("aws_session_token").count(), 1);
    }
}
