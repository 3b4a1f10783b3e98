//! The service's configuration: one [`Config`], built from defaults, then an optional TOML file,
//! then `INKAN_*` environment variables (and `DATABASE_URL`). Secrets are held in [`Secret`] so
//! that neither `Debug` nor the logs ever show them.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it (connecting, hashing).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How to secure the SMTP connection (`smtp_tls`, `INKAN_SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587 by default).
    Starttls,
    /// TLS from the first byte ("SMTPS", port 465 by default).
    Tls,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `inkan serve` and `inkan admin` need to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// `listen`, `INKAN_LISTEN`: the address to serve on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// `data_dir`, `INKAN_DATA_DIR`: SQLite database (by default) and the email outbox folder.
    pub data_dir: PathBuf,
    /// `base_url`, `INKAN_BASE_URL`: how users reach the service (links in emails); defaults
    /// to `http://` + the listen address.
    pub base_url: Option<String>,
    /// `database_url`, `INKAN_DATABASE_URL` or `DATABASE_URL`: `postgres://…` or `sqlite://…`;
    /// defaults to SQLite in `data_dir/inkan.db`. May hold a password, so it is a secret.
    pub database_url: Option<Secret<String>>,
    /// `ca_dir`, `INKAN_CA_DIR`: a CA folder (`inkan ca init`) whose endpoints are served too.
    pub ca_dir: Option<PathBuf>,
    /// `log`, `INKAN_LOG`: a tracing filter such as `info` or `inkan=debug,sqlx=warn`.
    pub log: String,
    /// `log_format`, `INKAN_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `initial_org`, `INKAN_INITIAL_ORG`: the organisation created on the first start.
    pub initial_org: String,
    /// `initial_admin_email`, `INKAN_INITIAL_ADMIN_EMAIL`: its first administrator.
    pub initial_admin_email: String,
    /// `smtp_host`, `INKAN_SMTP_HOST`: deliver email by SMTP through this server; without it,
    /// email is written as .eml files into `data_dir/outbox/`.
    pub smtp_host: Option<String>,
    /// `smtp_port`, `INKAN_SMTP_PORT`: defaults to 25, 587 or 465 by `smtp_tls`.
    pub smtp_port: Option<u16>,
    /// `smtp_tls`, `INKAN_SMTP_TLS`: `none`, `starttls` (the default) or `tls`.
    pub smtp_tls: SmtpTls,
    /// `smtp_user`, `INKAN_SMTP_USER`: log in to the SMTP server as this user.
    pub smtp_user: Option<String>,
    /// `smtp_password`, `INKAN_SMTP_PASSWORD`: and with this password.
    pub smtp_password: Option<Secret<String>>,
    /// `mail_from`, `INKAN_MAIL_FROM`: the sender, e.g. `Inkan <noreply@example.com>`.
    pub mail_from: String,
    /// `service_name`, `INKAN_SERVICE_NAME`: how mails name the service (the 【…】 subject
    /// prefix and the signature line); default `Inkan`.
    pub service_name: String,
    /// `mail_retry_seconds`, `INKAN_MAIL_RETRY_SECONDS`: the first retry delay after a failed
    /// delivery; each further failure doubles it, up to an hour.
    pub mail_retry_seconds: u64,
    /// `scheduler_seconds`, `INKAN_SCHEDULER_SECONDS`: how often each process looks for due
    /// scheduled work (renewal reminders); 1 to 3600, default 60.
    pub scheduler_seconds: u64,
    /// `webhook_retry_seconds`, `INKAN_WEBHOOK_RETRY_SECONDS`: the first retry delay after a
    /// failed webhook delivery; each further failure doubles it, up to an hour, for 24 hours.
    pub webhook_retry_seconds: u64,
    /// `audit_anchor_seconds`, `INKAN_AUDIT_ANCHOR_SECONDS`: how often the audit chain is
    /// anchored (a checkpoint signed and timestamped, kept in and outside the database) when
    /// entries were added; entries removed from the end after the last anchor go unnoticed
    /// until the next. 1 to 3600, default 600; checked every `scheduler_seconds`.
    pub audit_anchor_seconds: u64,
    /// `seal_decode_budget_mb`, `INKAN_SEAL_DECODE_BUDGET_MB`: how much memory seal uploads may
    /// take at once while they are decoded and lifted (a 16-megapixel image takes about 215 MB;
    /// more at once wait their turn). 16 to 65536, default 256.
    pub seal_decode_budget_mb: u32,
    /// `trusted_proxies`, `INKAN_TRUSTED_PROXIES` (comma-separated): the reverse proxies in
    /// front of the service (CIDRs or addresses). A request from one of them is taken to come
    /// from the address its `Forwarded` or `X-Forwarded-For` header names; from anywhere else
    /// those headers are ignored. Empty (the default): the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            base_url: None,
            database_url: None,
            ca_dir: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            initial_org: "Inkan".into(),
            initial_admin_email: "admin@localhost".into(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_user: None,
            smtp_password: None,
            mail_from: "Inkan <noreply@localhost>".into(),
            service_name: "Inkan".into(),
            mail_retry_seconds: 30,
            scheduler_seconds: 60,
            webhook_retry_seconds: 30,
            audit_anchor_seconds: 600,
            seal_decode_budget_mb: 256,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The TOML file: every key optional, unknown keys refused (a typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    base_url: Option<String>,
    database_url: Option<String>,
    ca_dir: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<String>,
    initial_org: Option<String>,
    initial_admin_email: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<String>,
    smtp_user: Option<String>,
    smtp_password: Option<String>,
    mail_from: Option<String>,
    service_name: Option<String>,
    mail_retry_seconds: Option<u64>,
    scheduler_seconds: Option<u64>,
    webhook_retry_seconds: Option<u64>,
    audit_anchor_seconds: Option<u64>,
    seal_decode_budget_mb: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
}

/// A configuration problem, naming where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    File { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    Value { origin: String, message: String },
}

impl Config {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// [`Config::load`] with the environment passed in (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
            config.apply_file(parsed, path)?;
        }
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_file(&mut self, f: FileConfig, path: &Path) -> Result<(), ConfigError> {
        let origin = |key: &str| format!("{} (key `{key}`)", path.display());
        if let Some(v) = f.listen {
            self.listen = parse_listen(&v).map_err(|m| value_error(origin("listen"), m))?;
        }
        if let Some(v) = f.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = f.base_url {
            self.base_url =
                Some(parse_base_url(&v).map_err(|m| value_error(origin("base_url"), m))?);
        }
        if let Some(v) = f.database_url {
            check_database_url(&v).map_err(|m| value_error(origin("database_url"), m))?;
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = f.ca_dir {
            self.ca_dir = Some(v);
        }
        if let Some(v) = f.log {
            self.log = v;
        }
        if let Some(v) = f.log_format {
            self.log_format =
                parse_log_format(&v).map_err(|m| value_error(origin("log_format"), m))?;
        }
        if let Some(v) = f.initial_org {
            self.initial_org = v;
        }
        if let Some(v) = f.initial_admin_email {
            self.initial_admin_email = v;
        }
        if let Some(v) = f.smtp_host {
            self.smtp_host = Some(parse_host(&v).map_err(|m| value_error(origin("smtp_host"), m))?);
        }
        if let Some(v) = f.smtp_port {
            self.smtp_port = Some(v);
        }
        if let Some(v) = f.smtp_tls {
            self.smtp_tls = parse_smtp_tls(&v).map_err(|m| value_error(origin("smtp_tls"), m))?;
        }
        if let Some(v) = f.smtp_user {
            self.smtp_user = Some(v);
        }
        if let Some(v) = f.smtp_password {
            self.smtp_password = Some(Secret::new(v));
        }
        if let Some(v) = f.mail_from {
            self.mail_from =
                parse_mail_from(&v).map_err(|m| value_error(origin("mail_from"), m))?;
        }
        if let Some(v) = f.service_name {
            self.service_name =
                parse_service_name(&v).map_err(|m| value_error(origin("service_name"), m))?;
        }
        if let Some(v) = f.mail_retry_seconds {
            self.mail_retry_seconds =
                check_retry(v).map_err(|m| value_error(origin("mail_retry_seconds"), m))?;
        }
        if let Some(v) = f.scheduler_seconds {
            self.scheduler_seconds =
                check_retry(v).map_err(|m| value_error(origin("scheduler_seconds"), m))?;
        }
        if let Some(v) = f.webhook_retry_seconds {
            self.webhook_retry_seconds =
                check_retry(v).map_err(|m| value_error(origin("webhook_retry_seconds"), m))?;
        }
        if let Some(v) = f.audit_anchor_seconds {
            self.audit_anchor_seconds =
                check_retry(v).map_err(|m| value_error(origin("audit_anchor_seconds"), m))?;
        }
        if let Some(v) = f.seal_decode_budget_mb {
            self.seal_decode_budget_mb =
                check_budget(v).map_err(|m| value_error(origin("seal_decode_budget_mb"), m))?;
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = v
                .iter()
                .map(|p| parse_proxy(p))
                .collect::<Result<_, _>>()
                .map_err(|m| value_error(origin("trusted_proxies"), m))?;
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        // An empty variable counts as unset, as shells often export empty values.
        let get = |name: &str| env.get(name).filter(|v| !v.is_empty());
        let origin = |name: &str| format!("the environment variable {name}");
        if let Some(v) = get("INKAN_LISTEN") {
            self.listen = parse_listen(v).map_err(|m| value_error(origin("INKAN_LISTEN"), m))?;
        }
        if let Some(v) = get("INKAN_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("INKAN_BASE_URL") {
            self.base_url =
                Some(parse_base_url(v).map_err(|m| value_error(origin("INKAN_BASE_URL"), m))?);
        }
        // INKAN_DATABASE_URL wins over the conventional DATABASE_URL.
        for name in ["DATABASE_URL", "INKAN_DATABASE_URL"] {
            if let Some(v) = get(name) {
                check_database_url(v).map_err(|m| value_error(origin(name), m))?;
                self.database_url = Some(Secret::new(v.clone()));
            }
        }
        if let Some(v) = get("INKAN_CA_DIR") {
            self.ca_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("INKAN_LOG") {
            self.log = v.clone();
        }
        if let Some(v) = get("INKAN_LOG_FORMAT") {
            self.log_format =
                parse_log_format(v).map_err(|m| value_error(origin("INKAN_LOG_FORMAT"), m))?;
        }
        if let Some(v) = get("INKAN_INITIAL_ORG") {
            self.initial_org = v.clone();
        }
        if let Some(v) = get("INKAN_INITIAL_ADMIN_EMAIL") {
            self.initial_admin_email = v.clone();
        }
        if let Some(v) = get("INKAN_SMTP_HOST") {
            self.smtp_host =
                Some(parse_host(v).map_err(|m| value_error(origin("INKAN_SMTP_HOST"), m))?);
        }
        if let Some(v) = get("INKAN_SMTP_PORT") {
            self.smtp_port = Some(
                v.parse()
                    .map_err(|_| format!("'{v}' is not a port number"))
                    .map_err(|m| value_error(origin("INKAN_SMTP_PORT"), m))?,
            );
        }
        if let Some(v) = get("INKAN_SMTP_TLS") {
            self.smtp_tls =
                parse_smtp_tls(v).map_err(|m| value_error(origin("INKAN_SMTP_TLS"), m))?;
        }
        if let Some(v) = get("INKAN_SMTP_USER") {
            self.smtp_user = Some(v.clone());
        }
        if let Some(v) = get("INKAN_SMTP_PASSWORD") {
            self.smtp_password = Some(Secret::new(v.clone()));
        }
        if let Some(v) = get("INKAN_MAIL_FROM") {
            self.mail_from =
                parse_mail_from(v).map_err(|m| value_error(origin("INKAN_MAIL_FROM"), m))?;
        }
        if let Some(v) = get("INKAN_SERVICE_NAME") {
            self.service_name =
                parse_service_name(v).map_err(|m| value_error(origin("INKAN_SERVICE_NAME"), m))?;
        }
        if let Some(v) = get("INKAN_MAIL_RETRY_SECONDS") {
            let parsed = v
                .parse()
                .map_err(|_| format!("'{v}' is not a number of seconds"))
                .and_then(check_retry);
            self.mail_retry_seconds =
                parsed.map_err(|m| value_error(origin("INKAN_MAIL_RETRY_SECONDS"), m))?;
        }
        if let Some(v) = get("INKAN_SCHEDULER_SECONDS") {
            let parsed = v
                .parse()
                .map_err(|_| format!("'{v}' is not a number of seconds"))
                .and_then(check_retry);
            self.scheduler_seconds =
                parsed.map_err(|m| value_error(origin("INKAN_SCHEDULER_SECONDS"), m))?;
        }
        if let Some(v) = get("INKAN_WEBHOOK_RETRY_SECONDS") {
            let parsed = v
                .parse()
                .map_err(|_| format!("'{v}' is not a number of seconds"))
                .and_then(check_retry);
            self.webhook_retry_seconds =
                parsed.map_err(|m| value_error(origin("INKAN_WEBHOOK_RETRY_SECONDS"), m))?;
        }
        if let Some(v) = get("INKAN_AUDIT_ANCHOR_SECONDS") {
            let parsed = v
                .parse()
                .map_err(|_| format!("'{v}' is not a number of seconds"))
                .and_then(check_retry);
            self.audit_anchor_seconds =
                parsed.map_err(|m| value_error(origin("INKAN_AUDIT_ANCHOR_SECONDS"), m))?;
        }
        if let Some(v) = get("INKAN_SEAL_DECODE_BUDGET_MB") {
            let parsed = v
                .parse()
                .map_err(|_| format!("'{v}' is not a number of megabytes"))
                .and_then(check_budget);
            self.seal_decode_budget_mb =
                parsed.map_err(|m| value_error(origin("INKAN_SEAL_DECODE_BUDGET_MB"), m))?;
        }
        if let Some(v) = get("INKAN_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(parse_proxy)
                .collect::<Result<_, _>>()
                .map_err(|m| value_error(origin("INKAN_TRUSTED_PROXIES"), m))?;
        }
        Ok(())
    }

    /// The URL users reach the service at, without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(u) => u.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The database to use: the configured URL, or SQLite in the data folder.
    pub fn database_url(&self) -> Secret<String> {
        match &self.database_url {
            Some(u) => u.clone(),
            None => Secret::new(format!(
                "sqlite://{}",
                self.data_dir.join("inkan.db").display()
            )),
        }
    }

    /// The SMTP port: the configured one, or the usual one for `smtp_tls`.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
            .unwrap_or_else(|| self.smtp_tls.default_port())
    }

    /// The effective configuration as TOML, secrets shown as `[redacted]` (`inkan config`).
    pub fn describe(&self) -> String {
        let db = self.database_url();
        format!(
            "listen = \"{}\"\ndata_dir = \"{}\"\nbase_url = \"{}\"\ndatabase = \"{}\"\nca_dir = {}\nlog = \"{}\"\nlog_format = \"{}\"\ninitial_org = \"{}\"\ninitial_admin_email = \"{}\"\n{}",
            self.listen,
            self.data_dir.display(),
            self.base_url(),
            redact_url(db.expose()),
            self.ca_dir
                .as_ref()
                .map_or("none".into(), |d| format!("\"{}\"", d.display())),
            self.log,
            match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            self.initial_org,
            self.initial_admin_email,
            self.describe_mail(),
        )
    }

    fn describe_mail(&self) -> String {
        let mut out = match &self.smtp_host {
            None => format!(
                "mail = \"files in {}\"\n",
                self.data_dir.join("outbox").display()
            ),
            Some(host) => format!(
                "smtp_host = \"{host}\"\nsmtp_port = {}\nsmtp_tls = \"{}\"\nsmtp_user = {}\nsmtp_password = {}\n",
                self.smtp_port(),
                self.smtp_tls.as_str(),
                self.smtp_user
                    .as_ref()
                    .map_or("none".into(), |u| format!("\"{u}\"")),
                self.smtp_password
                    .as_ref()
                    .map_or("none".into(), |p| format!("\"{p}\"")),
            ),
        };
        out.push_str(&format!(
            "mail_from = \"{}\"\nservice_name = \"{}\"\nmail_retry_seconds = {}\n\
             scheduler_seconds = {}\nwebhook_retry_seconds = {}\naudit_anchor_seconds = {}\nseal_decode_budget_mb = {}\n",
            self.mail_from,
            self.service_name,
            self.mail_retry_seconds,
            self.scheduler_seconds,
            self.webhook_retry_seconds,
            self.audit_anchor_seconds,
            self.seal_decode_budget_mb
        ));
        out.push_str(&format!(
            "trusted_proxies = [{}]\n",
            self.trusted_proxies
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out
    }
}

/// A trusted proxy: a CIDR (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`).
fn parse_proxy(v: &str) -> Result<ipnet::IpNet, String> {
    let v = v.trim();
    v.parse::<ipnet::IpNet>()
        .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("'{v}' is not an address or a CIDR such as 10.0.0.0/8"))
}

/// The client's address for a request whose TCP peer is `peer`: the peer itself, unless it is
/// one of the `trusted` proxies, when the forwarding headers are followed from the nearest hop
/// back — `Forwarded`'s `for=` (RFC 7239) if present, else `X-Forwarded-For` — past every
/// trusted proxy to the first address that is not one. What a client wrote itself is never
/// believed: only the hops a trusted proxy appended are walked, and an entry that is no address
/// (`unknown`, an obfuscated name, garbage) stops the walk at the hop before it.
pub fn client_address(
    peer: std::net::IpAddr,
    trusted: &[ipnet::IpNet],
    forwarded: &[&str],
    x_forwarded_for: &[&str],
) -> std::net::IpAddr {
    let is_trusted = |a: &std::net::IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<Option<std::net::IpAddr>> = if forwarded.iter().any(|f| !f.trim().is_empty()) {
        forwarded
            .iter()
            .flat_map(|f| f.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| forwarded_node(v))
            })
            .collect()
    } else {
        x_forwarded_for
            .iter()
            .flat_map(|f| f.split(','))
            .map(|a| a.trim().parse().ok())
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(address) => {
                client = address;
                if !is_trusted(&address) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// The address of a `Forwarded` node: `192.0.2.1`, `"192.0.2.1:8080"`, `"[2001:db8::1]:80"`.
fn forwarded_node(v: &str) -> Option<std::net::IpAddr> {
    let v = v.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    v.parse()
        .ok()
        .or_else(|| v.rsplit_once(':').and_then(|(a, _)| a.parse().ok()))
}

/// A service name: one line of 1 to 40 characters (it heads every mail's subject).
fn parse_service_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 40 || s.chars().any(char::is_control) {
        Err(format!(
            "'{s}' is not a service name (one line of 1 to 40 characters)"
        ))
    } else {
        Ok(s.to_owned())
    }
}

fn value_error(origin: String, message: String) -> ConfigError {
    ConfigError::Value { origin, message }
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    v.parse()
        .map_err(|_| format!("'{v}' is not an address such as 127.0.0.1:8080"))
}

fn parse_base_url(v: &str) -> Result<String, String> {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "'{v}' is not an http:// or https:// URL such as https://sign.example.com"
        )),
    }
}

fn check_database_url(v: &str) -> Result<(), String> {
    if v.starts_with("postgres://") || v.starts_with("postgresql://") || v.starts_with("sqlite:") {
        Ok(())
    } else {
        // The value may hold a password: name only its scheme.
        let scheme = v.split(':').next().unwrap_or_default();
        Err(format!(
            "unsupported database '{scheme}:…'; use postgres://… or sqlite://…"
        ))
    }
}

fn parse_host(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
        Err(format!("'{v}' is not a host name such as smtp.example.com"))
    } else {
        Ok(v.to_owned())
    }
}

fn parse_smtp_tls(v: &str) -> Result<SmtpTls, String> {
    match v {
        "none" => Ok(SmtpTls::None),
        "starttls" => Ok(SmtpTls::Starttls),
        "tls" => Ok(SmtpTls::Tls),
        _ => Err(format!(
            "'{v}' is not an SMTP security: use none, starttls or tls"
        )),
    }
}

fn parse_mail_from(v: &str) -> Result<String, String> {
    v.parse::<lettre::message::Mailbox>()
        .map(|_| v.trim().to_owned())
        .map_err(|_| format!("'{v}' is not a sender such as Inkan <noreply@example.com>"))
}

fn check_budget(v: u64) -> Result<u32, String> {
    match u32::try_from(v) {
        Ok(mb) if (16..=65536).contains(&mb) => Ok(mb),
        _ => Err(format!("{v} is not between 16 and 65536 megabytes")),
    }
}

fn check_retry(v: u64) -> Result<u64, String> {
    if (1..=3600).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 1 and 3600 seconds"))
    }
}

fn parse_log_format(v: &str) -> Result<LogFormat, String> {
    match v {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("'{v}' is not a log format: use text or json")),
    }
}

/// A database URL with any password replaced, fit for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:[redacted]{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Forwarding headers count only from a trusted proxy, and only the hops trusted proxies
    /// appended: a client's own `X-Forwarded-For` entries never pick its address.
    #[test]
    fn the_client_is_found_behind_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let trusted = vec![
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("::1").unwrap(),
        ];
        // Straight from a client: headers ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), &trusted, &[], &["198.51.100.1"]),
            ip("203.0.113.9")
        );
        // Through one proxy; a spoofed first entry is walked past, not believed.
        assert_eq!(
            client_address(ip("10.0.0.2"), &trusted, &[], &["1.2.3.4, 198.51.100.1"]),
            ip("198.51.100.1")
        );
        // Through two proxies (two headers, in order).
        assert_eq!(
            client_address(ip("10.0.0.2"), &trusted, &[], &["198.51.100.1", "10.0.0.7"]),
            ip("198.51.100.1")
        );
        // Forwarded wins over X-Forwarded-For; ports, quotes and brackets are read.
        assert_eq!(
            client_address(
                ip("::1"),
                &trusted,
                &["for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.3"],
                &["198.51.100.1"]
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &trusted, &["For=\"192.0.2.60:8080\""], &[]),
            ip("192.0.2.60")
        );
        // No header, or one that names no address: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.2"), &trusted, &[], &[]),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &trusted, &["for=unknown"], &[]),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &[], &[], &["198.51.100.1"]),
            ip("10.0.0.2"),
            "nothing trusted by default"
        );
    }

    #[test]
    fn trusted_proxies_are_read_from_the_file_and_the_environment() {
        let env: HashMap<String, String> = [(
            "INKAN_TRUSTED_PROXIES".to_owned(),
            "10.0.0.0/8, 127.0.0.1".to_owned(),
        )]
        .into();
        let config = Config::load_from(None, &env).unwrap();
        assert_eq!(
            config.trusted_proxies,
            vec![
                parse_proxy("10.0.0.0/8").unwrap(),
                parse_proxy("127.0.0.1/32").unwrap()
            ]
        );
        assert!(config
            .describe()
            .contains("trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1/32\"]"));
        let bad: HashMap<String, String> =
            [("INKAN_TRUSTED_PROXIES".to_owned(), "10.0.0.0/33".to_owned())].into();
        let e = Config::load_from(None, &bad).unwrap_err().to_string();
        assert!(
            e.contains("INKAN_TRUSTED_PROXIES") && e.contains("CIDR"),
            "{e}"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_configuration_means_sqlite_in_data_on_local_port_8080() {
        let c = Config::load_from(None, &env(&[])).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url().expose(), "sqlite://./data/inkan.db");
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("inkan.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\n").expect("write");
        let c = Config::load_from(Some(&file), &env(&[("INKAN_LISTEN", "127.0.0.1:9001")]))
            .expect("config");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(c.log, "debug");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn inkan_database_url_wins_over_database_url() {
        let c = Config::load_from(
            None,
            &env(&[
                ("DATABASE_URL", "postgres://a@h/one"),
                ("INKAN_DATABASE_URL", "postgres://a@h/two"),
            ]),
        )
        .expect("config");
        assert_eq!(c.database_url().expose(), "postgres://a@h/two");
    }

    #[test]
    fn secrets_never_show_in_debug_or_describe() {
        let c = Config::load_from(
            None,
            &env(&[("DATABASE_URL", "postgres://inkan:hunter2@db:5432/inkan")]),
        )
        .expect("config");
        assert!(!format!("{c:?}").contains("hunter2"));
        let described = c.describe();
        assert!(!described.contains("hunter2"), "{described}");
        assert!(described.contains("postgres://inkan:[redacted]@db:5432/inkan"));
    }

    #[test]
    fn smtp_settings_come_from_the_environment_and_the_password_never_shows() {
        let c = Config::load_from(
            None,
            &env(&[
                ("INKAN_SMTP_HOST", "smtp.example.com"),
                ("INKAN_SMTP_TLS", "tls"),
                ("INKAN_SMTP_USER", "inkan"),
                ("INKAN_SMTP_PASSWORD", "hunter2"),
                ("INKAN_MAIL_FROM", "印鑑 <noreply@example.com>"),
            ]),
        )
        .expect("config");
        assert_eq!(c.smtp_host.as_deref(), Some("smtp.example.com"));
        assert_eq!(c.smtp_port(), 465);
        assert_eq!(c.smtp_tls, SmtpTls::Tls);
        assert_eq!(c.service_name, "Inkan", "the default");
        assert!(!format!("{c:?}").contains("hunter2"));
        let described = c.describe();
        assert!(!described.contains("hunter2"), "{described}");
        assert!(
            described.contains("smtp_password = \"[redacted]\""),
            "{described}"
        );
    }

    #[test]
    fn bad_smtp_values_name_their_key() {
        for (key, value) in [
            ("INKAN_SMTP_TLS", "ssl"),
            ("INKAN_SMTP_PORT", "smtp"),
            ("INKAN_MAIL_FROM", "not an address"),
            ("INKAN_MAIL_RETRY_SECONDS", "0"),
            ("INKAN_WEBHOOK_RETRY_SECONDS", "0"),
            ("INKAN_WEBHOOK_RETRY_SECONDS", "soon"),
            ("INKAN_SERVICE_NAME", " "),
            ("INKAN_SERVICE_NAME", "two\nlines"),
        ] {
            let e = Config::load_from(None, &env(&[(key, value)])).expect_err(key);
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn unknown_file_key_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("inkan.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").expect("write");
        let e = Config::load_from(Some(&file), &env(&[])).expect_err("typo refused");
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let e = Config::load_from(None, &env(&[("INKAN_LISTEN", "eighty")])).expect_err("bad");
        assert!(e.to_string().contains("INKAN_LISTEN"), "{e}");
        let e = Config::load_from(None, &env(&[("DATABASE_URL", "mysql://u:pw@h/db")]))
            .expect_err("bad");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}
