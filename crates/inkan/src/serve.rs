//! `inkan serve`: opens the database (migrating it), initialises an empty instance, mounts the
//! routes (and the CA's endpoints when `ca_dir` is set), starts the background work (the job
//! runner and the scheduler of periodic jobs, see `domain::jobs`) and serves until SIGINT or
//! SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use domain::accounts::{self, Email, Initialised, OrgName};
use domain::ca_store;
use domain::clock::Clock;
use domain::config::{Config, LogFormat};
use domain::db::Db;
use domain::email;
use domain::jobs;
use web::app::{router, AppState};

/// Sets up structured logging to standard error.
pub fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .with_context(|| format!("the log filter '{}' is not valid", config.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Tells the operator how to log in as the new administrator (on standard output, not in the
/// logs: the temporary password must not land in a log collector).
pub fn print_login(init: &Initialised, org: &str, base_url: &str) {
    println!(
        "Created the organisation '{org}' and its administrator {}.",
        init.email
    );
    println!("Log in at {base_url}/login");
    println!("  email:              {}", init.email);
    println!("  temporary password: {}", init.temporary_password.expose());
    println!("You will be asked to choose a new password at the first login.");
}

/// Tells the operator where certificate applications wait for their identity check.
fn print_ca_created(base_url: &str) {
    println!("Created Inkan's certificate authority in the database.");
    println!(
        "Certificate applications wait for their identity check at {base_url}/identity-checks,"
    );
    println!("worked by the instance operator; create one with");
    println!("  inkan admin create-operator --email operator@example.jp");
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let clock = Clock::from_env();
    let now = || clock.now();
    let db = Db::open(&config).await?;
    if accounts::first_organisation(&db).await?.is_none() {
        let org = OrgName::parse(&config.initial_org)
            .map_err(anyhow::Error::msg)
            .context("initial_org")?;
        let email = Email::parse(&config.initial_admin_email)
            .map_err(anyhow::Error::msg)
            .context("initial_admin_email")?;
        let login_url = format!("{}/login", config.base_url());
        if let Some(init) = accounts::initialise(&db, now(), &org, &email, &login_url).await? {
            tracing::info!(organisation = %org.as_str(), admin = %email, "first start: instance initialised");
            print_login(&init, org.as_str(), &config.base_url());
        }
    }
    let (ca, origin) = ca_store::for_service(&db, &config, now())
        .await
        .context("opening Inkan's CA")?;
    let ca = Arc::new(ca);
    match &origin {
        ca_store::Origin::Loaded => {}
        ca_store::Origin::Imported(dir) => {
            tracing::info!(ca_dir = %dir.display(), "the CA folder was imported into the database");
            println!(
                "Imported the CA folder {} into the database.",
                dir.display()
            );
        }
        ca_store::Origin::Created => {
            tracing::info!("first start: Inkan's CA created in the database");
            print_ca_created(&config.base_url());
        }
    }
    // What the log holds since the last run is anchored at once: a first start's entries (and
    // an upgraded instance's older ones) do not wait for the first period.
    match domain::audit::chain::anchor_if_due(&db, &ca, now(), 0).await {
        Ok(Ok(_)) => {}
        Ok(Err(b)) => {
            tracing::error!(seq = b.seq, reason = %b.reason, "the audit log was tampered with")
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "anchoring the audit log failed"),
    }
    let ca_routes =
        web::routes::ca::router(web::routes::ca::CaSource::Database(ca.clone(), db.clone()));
    let documents = Arc::new(
        domain::storage::DocumentStore::local(config.data_dir.join("documents"))
            .context("opening the document store")?,
    );
    let desk = Arc::new(domain::contracts::Desk::new(
        db.clone(),
        ca.clone(),
        documents.clone(),
        &config.base_url(),
        &config.mail_from,
    ));
    domain::mail::set_service_name(&config.service_name);
    let mailer = email::Mailer::from_config(&config)?.with_store(documents.clone());
    let work = jobs::work::Work::new(db.clone(), clock.clone(), mailer)
        .with_test_jobs_from_env()
        .with_webhook_retry_seconds(config.webhook_retry_seconds as i64)
        .with_audit_anchor_seconds(config.audit_anchor_seconds as i64)
        .with_contracts(desk.clone());
    let runner = Arc::new(jobs::Runner::new(db.clone(), clock.clone(), work));
    tokio::spawn(runner.clone().run());
    tokio::spawn(jobs::work::run_scheduler(
        db.clone(),
        clock.clone(),
        config.scheduler_seconds as i64,
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let seal_budget = Arc::new(domain::seals::DecodeBudget::new(
        config.seal_decode_budget_mb,
    ));
    let state = AppState {
        db,
        config: Arc::new(config),
        clock,
        pages: Arc::new(web::view::Pages::new()?),
        ca,
        documents,
        desk,
        jobs: runner,
        seal_budget,
    };
    let app = router(state, Some(ca_routes));
    tracing::info!(%addr, "listening");
    // The tests read this line to learn the port when listening on port 0.
    println!("Listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
