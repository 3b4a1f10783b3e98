//! `inkan`: the command line of Inkan. `inkan sign` and `inkan verify` work on PDF files through
//! the `pdf-sign` crate; `inkan serve` runs the web service, `inkan admin` administers its
//! database, `inkan ca` runs the certificate authority.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod http_client;
mod serve;

use domain::{accounts, audit, ca_folder, ca_store, clock, config, db};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use pdf_sign::{
    keys, Certify, FileSource, HashAlgorithm, KeySigner, PdfError, Placement, SignOptions,
    VerifyOptions,
};

#[derive(Parser, Debug)]
#[command(
    name = "inkan",
    version,
    about = "Inkan: electronic contracts with PAdES signatures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign a PDF with a PAdES (B-B) signature, as an incremental update.
    Sign(Box<SignArgs>),
    /// Run Inkan's certificate authority: init, serve (CRL, OCSP, TSA), issue, revoke.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Verify every signature in a PDF. Exit code: 0 valid, 1 invalid or modified, 2 not
    /// trusted, 3 unreadable.
    Verify(VerifyArgs),
    /// Run the web service. Configuration: defaults, then --config FILE (TOML), then INKAN_*
    /// environment variables and DATABASE_URL. Exit code 2 for a configuration error.
    Serve(ServiceArgs),
    /// Administer the service's database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the effective configuration (secrets redacted).
    Config(ServiceArgs),
}

#[derive(clap::Args, Debug)]
struct ServiceArgs {
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create the organisation and its first administrator (with a temporary password) in an
    /// empty database.
    Init {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Create an instance operator account (who creates organisations and, later, checks
    /// certificate applicants' identity), with a temporary password printed and emailed.
    CreateOperator {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Check the audit log: every entry's MAC and link, and the checkpoints in the database and
    /// in the data folder's audit-anchors.jsonl; exit 1 if it was tampered with.
    VerifyAudit {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Record a checkpoint of the audit log now (`inkan serve` makes one every
    /// audit_anchor_seconds), e.g. before a backup.
    AuditCheckpoint {
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[derive(Subcommand, Debug)]
enum CaCommand {
    /// Create Inkan's CA: root and issuing CA, TSA and OCSP certificates, sealed keys — in the
    /// service's database (the configuration's), or with --dir in a CA folder served alone
    /// (`inkan ca serve`).
    Init {
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The organisation named in the CA certificates.
        #[arg(long)]
        org: String,
        /// Where the CA's endpoints will be reachable (goes into the certificates' AIA/CDP).
        #[arg(long)]
        base_url: String,
        /// p256 (default) or rsa3072.
        #[arg(long, default_value = "p256")]
        key_algorithm: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Move a CA folder into the service's database, once: its keys (still sealed under its
    /// master key, which stays outside the database), certificates, revocations and CRL
    /// numbers. `inkan serve` with `ca_dir` set does the same at its first start.
    Import {
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Serve the CA's certificates, CRLs, OCSP responder and timestamp authority over HTTP.
    Serve {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
    },
    /// Issue a signer certificate from an application (JSON: country, state_or_province,
    /// locality, street_address, postal_code, organisation, organisational_unit, common_name,
    /// email); prints the serial and writes the certificate chain as PEM.
    Issue {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        application: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Renew a signer certificate: a new key and certificate; the old one stays valid until it
    /// expires. Prints the new serial and writes the new chain as PEM.
    Renew {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Change a signer certificate: re-issue with the application's new subject; the old
    /// certificate is revoked (superseded). Prints the new serial.
    Change {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        application: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Import an externally issued signer certificate and key from PKCS#12; prints the serial.
    ImportP12 {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        file: PathBuf,
        /// The environment variable holding the PKCS#12 password.
        #[arg(long)]
        password_env: String,
    },
    /// Revoke a certificate.
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        serial: String,
        /// unspecified, key-compromise, affiliation-changed, superseded, cessation-of-operation
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    /// The PDF to sign.
    input: PathBuf,
    /// Where to write the signed PDF.
    #[arg(short, long)]
    output: PathBuf,
    /// The private key (PEM or DER: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "cert", conflicts_with = "p12")]
    key: Option<PathBuf>,
    /// Sign with a key held by Inkan's CA in this folder (with --serial).
    #[arg(long, requires = "serial", conflicts_with_all = ["key", "p12"])]
    ca_dir: Option<PathBuf>,
    /// The serial (hex) of the CA-issued certificate to sign with.
    #[arg(long)]
    serial: Option<String>,
    /// The signer's certificate (PEM or DER).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Certificates of the issuing chain (PEM); may be repeated.
    #[arg(long)]
    chain: Vec<PathBuf>,
    /// A PKCS#12 file with the key and chain, instead of --key/--cert.
    #[arg(long, requires = "password_env")]
    p12: Option<PathBuf>,
    /// The environment variable holding the PKCS#12 password.
    #[arg(long)]
    password_env: Option<String>,
    /// A visible signature: PAGE,X,Y,W,H in points from the page's lower-left corner, pages from 1.
    #[arg(long)]
    visible: Option<String>,
    /// The seal image (PNG, transparency kept) for a visible signature.
    #[arg(long, requires = "visible")]
    seal: Option<PathBuf>,
    /// The signer's name (/Name, and the appearance's first line).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    location: Option<String>,
    #[arg(long)]
    contact: Option<String>,
    /// Make this the certification signature: 1 no changes, 2 form filling and signing, 3 also annotations.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3))]
    certify: Option<i64>,
    /// sha256, sha384 or sha512.
    #[arg(long)]
    hash: Option<String>,
    /// RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys).
    #[arg(long)]
    pss: bool,
    /// Sign into this (empty) signature field, or name the new field so.
    #[arg(long)]
    field: Option<String>,
    /// The time zone of the signing time (/M and a visible signature's caption), an IANA name.
    #[arg(long, default_value = "Asia/Tokyo", value_parser = parse_time_zone)]
    time_zone: domain::settings::Tz,
    /// PAdES baseline level: B-B; B-T adds a signature timestamp; B-LT also a DSS with the
    /// certificates and OCSP/CRL data; B-LTA also a document timestamp.
    #[arg(long, default_value = "B-B", value_parser = ["B-B", "B-T", "B-LT", "B-LTA"])]
    level: String,
    /// The RFC 3161 timestamp authority (http URL), for B-T and above.
    #[arg(long)]
    tsa: Option<String>,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    input: PathBuf,
    /// A trusted root certificate (PEM); may be repeated.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Print a machine-readable JSON report.
    #[arg(long)]
    json: bool,
    /// Use only the revocation data inside the document (its DSS); never fetch OCSP or CRLs.
    #[arg(long)]
    offline: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sign(args) => match run_sign(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("inkan sign: {e:#}");
                ExitCode::from(exit_code_for(&e))
            }
        },
        Command::Ca(CaCommand::Init {
            dir: None,
            org,
            base_url,
            key_algorithm,
            service,
        }) => run_service("ca init", &service, |config| {
            runtime()?.block_on(ca_init_in_database(config, org, base_url, key_algorithm))
        }),
        Command::Ca(CaCommand::Import { dir, service }) => {
            run_service("ca import", &service, |config| {
                runtime()?.block_on(ca_import(config, &dir))
            })
        }
        Command::Ca(cmd) => match run_ca(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("inkan ca: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Verify(args) => match run_verify(&args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("inkan verify: {e:#}");
                ExitCode::from(3)
            }
        },
        Command::Serve(args) => run_service("serve", &args, |config| {
            serve::init_logging(&config)?;
            runtime()?.block_on(serve::serve(config))
        }),
        Command::Admin(AdminCommand::Init {
            org,
            email,
            service,
        }) => run_service("admin init", &service, |config| {
            runtime()?.block_on(admin_init(config, &org, &email))
        }),
        Command::Admin(AdminCommand::CreateOperator { email, service }) => {
            run_service("admin create-operator", &service, |config| {
                runtime()?.block_on(admin_create_operator(config, &email))
            })
        }
        Command::Admin(AdminCommand::VerifyAudit { service }) => {
            run_service("admin verify-audit", &service, |config| {
                runtime()?.block_on(admin_verify_audit(config))
            })
        }
        Command::Admin(AdminCommand::AuditCheckpoint { service }) => {
            run_service("admin audit-checkpoint", &service, |config| {
                runtime()?.block_on(admin_audit_checkpoint(config))
            })
        }
        Command::Config(args) => run_service("config", &args, |config| {
            print!("{}", config.describe());
            Ok(())
        }),
    }
}

/// Loads the configuration (exit 2 when it is wrong) and runs `f` (exit 1 when it fails).
fn run_service(
    name: &str,
    args: &ServiceArgs,
    f: impl FnOnce(config::Config) -> anyhow::Result<()>,
) -> ExitCode {
    let config = match config::Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("inkan {name}: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match f(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inkan {name}: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn admin_init(config: config::Config, org: &str, email: &str) -> anyhow::Result<()> {
    let org = accounts::OrgName::parse(org).map_err(anyhow::Error::msg)?;
    let email = accounts::Email::parse(email).map_err(anyhow::Error::msg)?;
    let db = db::Db::open(&config).await?;
    let login_url = format!("{}/login", config.base_url());
    let now = clock::Clock::from_env().now();
    match accounts::initialise(&db, now, &org, &email, &login_url).await? {
        Some(init) => {
            serve::print_login(&init, org.as_str(), &config.base_url());
            Ok(())
        }
        None => {
            let existing = accounts::first_organisation(&db).await?.unwrap_or_default();
            bail!("this instance is already initialised (organisation '{existing}')")
        }
    }
}

async fn admin_create_operator(config: config::Config, email: &str) -> anyhow::Result<()> {
    let email = accounts::Email::parse(email).map_err(anyhow::Error::msg)?;
    let db = db::Db::open(&config).await?;
    let login_url = format!("{}/login", config.base_url());
    let now = clock::Clock::from_env().now();
    match accounts::create_operator(&db, now, &email, &login_url).await {
        Ok(created) => {
            println!("Created the instance operator {email}.");
            println!("Log in at {login_url}");
            println!("  email:              {email}");
            println!("  temporary password: {}", created.password.expose());
            println!("You will be asked to choose a new password at the first login.");
            Ok(())
        }
        Err(domain::error::Failure::Conflict(_)) => {
            bail!("the email address {email} is already registered")
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn admin_verify_audit(config: config::Config) -> anyhow::Result<()> {
    let db = db::Db::open(&config).await?;
    let ca = ca_store::Ca::load(&db, ca_store::master_key(&config)?).await?;
    match audit::chain::verify(&db, ca.as_ref()).await? {
        Ok(v) => {
            println!(
                "audit log intact: {} entries, {} checkpoints (the last covers {} entries)",
                v.entries, v.anchors, v.anchored
            );
            Ok(())
        }
        Err(b) => bail!(
            "the audit log was tampered with at entry {}: {}",
            b.seq,
            b.reason
        ),
    }
}

async fn admin_audit_checkpoint(config: config::Config) -> anyhow::Result<()> {
    let db = db::Db::open(&config).await?;
    let now = clock::Clock::from_env().now();
    let (ca, _) = ca_store::for_service(&db, &config, now)
        .await
        .context("opening Inkan's CA")?;
    match audit::chain::anchor_if_due(&db, &ca, now, 0).await? {
        Ok(Some(a)) => println!(
            "checkpoint {} recorded: {} entries, head {}",
            a.n, a.entries, a.head
        ),
        Ok(None) => println!("nothing to record: the last checkpoint covers every entry"),
        Err(b) => bail!(
            "not recorded: the audit log was tampered with at entry {}: {}",
            b.seq,
            b.reason
        ),
    }
    Ok(())
}

/// 3 when the input PDF cannot be read, 1 for other failures (bad key, bad options).
fn exit_code_for(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<PdfError>() {
        Some(
            PdfError::NotPdf(_)
            | PdfError::Encrypted
            | PdfError::Damaged(_)
            | PdfError::DamagedSigned
            | PdfError::Syntax { .. },
        ) => 3,
        _ => 1,
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `inkan ca init` without --dir: the CA in the service's database.
async fn ca_init_in_database(
    config: config::Config,
    organisation: String,
    base_url: String,
    key_algorithm: String,
) -> anyhow::Result<()> {
    let db = db::Db::open(&config).await?;
    let key_dir = config
        .ca_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.clone());
    std::fs::create_dir_all(&key_dir)?;
    let master = ca_folder::CaDir::new(&key_dir).master_key(true)?;
    let settings = ca_store::Settings {
        organisation,
        base_url,
        key_algorithm,
    };
    let now = clock::Clock::from_env().now();
    match ca_store::Ca::create(&db, now, master, settings).await? {
        Some(ca) => {
            let root = key_dir.join("root.pem");
            std::fs::write(&root, pem("CERTIFICATE", ca.authority().root_cert_der()))?;
            println!(
                "CA created in the database; its root certificate is {}",
                root.display()
            );
            Ok(())
        }
        None => bail!("the database has a CA already"),
    }
}

/// `inkan ca import --dir`: a CA folder into the service's database.
async fn ca_import(config: config::Config, dir: &Path) -> anyhow::Result<()> {
    let db = db::Db::open(&config).await?;
    let now = clock::Clock::from_env().now();
    let ca = ca_store::Ca::import(&db, now, &ca_folder::CaDir::new(dir)).await?;
    println!(
        "Imported the CA folder {} ({}) into the database.",
        dir.display(),
        ca.settings().organisation
    );
    Ok(())
}

fn run_ca(cmd: CaCommand) -> anyhow::Result<()> {
    use ca_folder::CaDir;
    match cmd {
        // Handled in `main`, where the service's configuration is read.
        CaCommand::Init { dir: None, .. } | CaCommand::Import { .. } => {
            bail!("this command works on the service's database")
        }
        CaCommand::Init {
            dir: Some(dir),
            org,
            base_url,
            key_algorithm,
            service: _,
        } => {
            let authority = CaDir::new(&dir).init(&org, &base_url, &key_algorithm)?;
            let root = dir.join("root.pem");
            std::fs::write(&root, pem("CERTIFICATE", authority.root_cert_der()))?;
            println!(
                "CA created in {}; its root certificate is {}",
                dir.display(),
                root.display()
            );
        }
        CaCommand::Serve { dir, listen } => web::routes::ca::serve(&CaDir::new(&dir), &listen)?,
        CaCommand::Issue {
            dir,
            application,
            out,
        } => {
            let (authority, _) = CaDir::new(&dir).open()?;
            let record = authority.issue(&read_application(&application)?)?;
            write_chain(&record, &out)?;
        }
        CaCommand::Renew { dir, serial, out } => {
            let (authority, _) = CaDir::new(&dir).open()?;
            let record = authority.renew(&ca::certstore::Serial::parse(&serial)?)?;
            write_chain(&record, &out)?;
        }
        CaCommand::Change {
            dir,
            serial,
            application,
            out,
        } => {
            let (authority, _) = CaDir::new(&dir).open()?;
            let serial = ca::certstore::Serial::parse(&serial)?;
            let record = authority.change(&serial, &read_application(&application)?)?;
            write_chain(&record, &out)?;
        }
        CaCommand::ImportP12 {
            dir,
            file,
            password_env,
        } => {
            let password = std::env::var(&password_env)
                .with_context(|| format!("the environment variable {password_env} is not set"))?;
            let (authority, _) = CaDir::new(&dir).open()?;
            let record = authority.import_pkcs12(&read(&file)?, &password)?;
            println!("{}", record.serial.as_str());
        }
        CaCommand::Revoke {
            dir,
            serial,
            reason,
        } => {
            use ca::certstore::RevocationReason as R;
            let reason = match reason.as_str() {
                "unspecified" => R::Unspecified,
                "key-compromise" => R::KeyCompromise,
                "affiliation-changed" => R::AffiliationChanged,
                "superseded" => R::Superseded,
                "cessation-of-operation" => R::CessationOfOperation,
                other => bail!("unknown revocation reason '{other}'"),
            };
            let (authority, _) = CaDir::new(&dir).open()?;
            authority.revoke(&ca::certstore::Serial::parse(&serial)?, reason)?;
            println!("revoked {serial}");
        }
    }
    Ok(())
}

fn read_application(path: &Path) -> anyhow::Result<ca::application::SignerApplication> {
    serde_json::from_slice(&read(path)?)
        .with_context(|| format!("reading the application {}", path.display()))
}

/// Writes the certificate and its chain as PEM, and prints the serial.
fn write_chain(record: &ca::certstore::CertRecord, out: &Path) -> anyhow::Result<()> {
    let mut text = pem("CERTIFICATE", &record.cert_der);
    for c in &record.chain {
        text.push_str(&pem("CERTIFICATE", c));
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", record.serial.as_str());
    Ok(())
}

fn pem(label: &str, der: &[u8]) -> String {
    use der::pem::LineEnding;
    der::pem::encode_string(label, LineEnding::LF, der).unwrap_or_default()
}

fn run_sign(args: &SignArgs) -> anyhow::Result<()> {
    if let (Some(dir), Some(serial)) = (&args.ca_dir, &args.serial) {
        let (authority, keys) = ca_folder::CaDir::new(dir).open()?;
        let record = ca_folder::record(&authority, serial)?;
        let signer = ca_folder::CaKeySigner::new(keys, &record)?;
        return sign_with(args, &signer);
    }
    let signer = match (&args.key, &args.p12) {
        (Some(key), None) => {
            let cert = args.cert.as_ref().context("--key needs --cert")?;
            let chain: Vec<Vec<u8>> = args
                .chain
                .iter()
                .map(|p| read(p))
                .collect::<anyhow::Result<_>>()?;
            KeySigner::from_pem(&read(key)?, &read(cert)?, &chain, args.pss)?
        }
        (None, Some(p12)) => {
            let var = args
                .password_env
                .as_deref()
                .context("--p12 needs --password-env")?;
            let password = std::env::var(var)
                .with_context(|| format!("the environment variable {var} is not set"))?;
            let mut s = KeySigner::from_pkcs12(&read(p12)?, &password, args.pss)?;
            for p in &args.chain {
                s.add_chain(keys::read_certificates(&read(p)?)?);
            }
            s
        }
        _ => bail!("give --key and --cert, --p12 and --password-env, or --ca-dir and --serial"),
    };
    sign_with(args, &signer)
}

/// The intermediate revisions of a multi-step signature, as temporary files in one folder
/// (deleted when this is dropped).
struct TempFiles {
    dir: PathBuf,
    files: Vec<tempfile::NamedTempFile>,
}

impl TempFiles {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            files: Vec::new(),
        }
    }
}

impl pdf_sign::Scratch for TempFiles {
    type Stage = FileSource;
    type Writer = BufWriter<std::fs::File>;

    fn create(&mut self) -> pdf_sign::Result<Self::Writer> {
        let file = tempfile::NamedTempFile::new_in(&self.dir)?;
        let writer = BufWriter::new(file.reopen()?);
        self.files.push(file);
        Ok(writer)
    }

    fn finish(&mut self, writer: Self::Writer) -> pdf_sign::Result<FileSource> {
        writer.into_inner().map_err(|e| e.into_error())?;
        let path = self
            .files
            .last()
            .map(|f| f.path().to_owned())
            .ok_or_else(|| PdfError::Invalid("no temporary file was created".into()))?;
        Ok(FileSource::open(&path)?)
    }
}

/// A new file's usual permissions: 0666 on Unix, from which the kernel takes the umask.
fn readable_by_default() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::Permissions::from_mode(0o666)
    }
    #[cfg(not(unix))]
    {
        let file = tempfile::tempfile().expect("a temporary file");
        file.metadata().expect("its metadata").permissions()
    }
}

fn parse_time_zone(s: &str) -> Result<domain::settings::Tz, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an IANA time zone name such as Asia/Tokyo"))
}

fn sign_with(args: &SignArgs, signer: &dyn pdf_sign::Signer) -> anyhow::Result<()> {
    let opts = SignOptions {
        placement: args.visible.as_deref().map(Placement::parse).transpose()?,
        seal_png: args.seal.as_deref().map(read).transpose()?,
        appearance_text: None,
        name: args.name.clone(),
        reason: args.reason.clone(),
        location: args.location.clone(),
        contact_info: args.contact.clone(),
        certify: args.certify.map(Certify::from_level).transpose()?,
        hash: args.hash.as_deref().map(HashAlgorithm::parse).transpose()?,
        field_name: args.field.clone(),
        signing_time: Some(
            chrono::Utc::now()
                .with_timezone(&args.time_zone)
                .fixed_offset(),
        ),
        fill: Vec::new(),
    };
    let src = FileSource::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    if args.output == args.input {
        bail!("the output must be a different file from the input");
    }
    let level = pdf_sign::Level::parse(&args.level)?;
    if level != pdf_sign::Level::BB && args.tsa.is_none() {
        bail!("--level {} needs --tsa URL", args.level);
    }
    let http = http_client::Http::new();
    let tsa = args.tsa.as_ref().map(|url| http_client::HttpTsa {
        http: &http,
        url: url.clone(),
    });
    // Each step writes a temporary file beside the output; the last is renamed into place, so a
    // failure leaves nothing half-written.
    let dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Created as `cp` would create it (0666 less the umask): a signed document is no secret key,
    // and tempfile's own 0600 would hide it from the signer's group and tools.
    let out = tempfile::Builder::new()
        .permissions(readable_by_default())
        .tempfile_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let services = pdf_sign::Services {
        tsa: tsa.as_ref().map(|t| t as &dyn pdf_sign::TsaTransport),
        revocation: &http,
    };
    let report = pdf_sign::sign_at_level(
        src,
        BufWriter::new(out.as_file()),
        &mut TempFiles::new(dir),
        signer,
        &opts,
        level,
        &services,
    )
    .with_context(|| format!("signing at {}", args.level))?;
    out.persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(reason) = &report.rewritten {
        eprintln!("inkan sign: the input was repaired (rewritten whole) before signing: {reason}");
    }
    eprintln!(
        "inkan sign: signed field '{}' into {}",
        report.field_name,
        args.output.display()
    );
    Ok(())
}

fn run_verify(args: &VerifyArgs) -> anyhow::Result<u8> {
    let mut anchors = Vec::new();
    for p in &args.trust {
        anchors.extend(keys::read_certificates(&read(p)?)?);
    }
    let src = FileSource::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let http = http_client::Http::new();
    let online: Option<&dyn pdf_sign::RevocationTransport> =
        if args.offline { None } else { Some(&http) };
    let report = pdf_sign::verify(
        src,
        &VerifyOptions {
            trust_anchors: anchors,
            online,
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report.status.exit_code() as u8)
}

fn print_report(report: &pdf_sign::Report) {
    println!(
        "{} signature(s), {} revision(s), {} bytes",
        report.signatures.len(),
        report.revisions,
        report.file_size
    );
    for (i, s) in report.signatures.iter().enumerate() {
        println!(
            "Signature {} (field '{}', {}):",
            i + 1,
            s.field,
            s.sub_filter
        );
        println!(
            "  signer: {}",
            s.signer_subject.as_deref().unwrap_or("unknown")
        );
        if let Some(t) = &s.signing_time {
            println!("  signing time (claimed): {t}");
        }
        if let Some(t) = &s.timestamp {
            println!("  timestamp: {t}");
        }
        if let Some(t) = &s.validation_time {
            println!("  certificates checked at: {t}");
        }
        for line in &s.revocation {
            println!("  revocation: {line}");
        }
        println!(
            "  covers revision {} ({} bytes){}",
            s.revision,
            s.signed_bytes,
            if s.covers_whole_document {
                ", the whole document"
            } else {
                ""
            }
        );
        println!(
            "  integrity: {}",
            if s.intact { "intact" } else { "BROKEN" }
        );
        if let Some(p) = s.certification {
            println!("  certification signature, DocMDP P={p}");
        }
        println!(
            "  trust: {}",
            if s.trusted {
                format!("trusted ({})", s.chain.join(" <- "))
            } else {
                "NOT trusted".into()
            }
        );
        for m in &s.modifications {
            println!("  MODIFIED after signing: {m}");
        }
        for c in &s.later_changes {
            println!("  later change (allowed): {c}");
        }
        for p in &s.problems {
            println!("  problem: {p}");
        }
        println!("  status: {:?}", s.status);
    }
    for p in &report.problems {
        println!("problem: {p}");
    }
    println!("overall: {:?}", report.status);
}
