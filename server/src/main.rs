//! `carechat`: parses the command line and starts things. Everything else
//! lives in the library (see its `# Layout`).

// A command-line tool answers its user on stdout; logs go to stderr.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context as _;
use carechat::config::{Mode, Overrides, RawConfig, PRODUCTION_CONFIG};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carechat",
    version,
    about = "Encrypted chat assistant for healthcare clinics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the chat (the demo clinic unless --config is given). Outside
    /// demo mode, refuses a configuration with demo-only parts.
    Serve {
        /// Configuration file; without it the built-in demo clinic is served.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Data directory (identity key, records).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The built widget (trunk's dist folder).
        #[arg(long)]
        assets_dir: Option<PathBuf>,
        /// The URL browsers use to reach this server.
        #[arg(long)]
        public_url: Option<String>,
        /// Also serve the demo clinic's web site on this address (another
        /// origin, as a real clinic site would be). Demo mode only.
        #[arg(long)]
        demo_site: Option<String>,
        /// Folder holding the demo site.
        #[arg(long, default_value = "public/demo-site")]
        demo_site_dir: PathBuf,
    },
    /// Write a production configuration file marking what to fill in (and
    /// the demo clinic's FAQ to edit), and generate the identity key.
    /// Never overwrites a file.
    Init {
        /// Where to write the configuration.
        #[arg(long, default_value = "carechat.toml")]
        config: PathBuf,
        /// Data directory for the identity key.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Check a configuration file and exit: fails on anything `serve` would
    /// refuse, naming each setting to change.
    CheckConfig {
        /// The file to check.
        #[arg(long)]
        config: PathBuf,
    },
    /// Storage keys (`carechat keys rotate`).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log (`carechat audit verify`, `carechat audit export --fhir`).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Clinic staff accounts (`carechat staff add`, `carechat staff list`).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account and print its TOTP secret, once. The first
    /// administrator must be created this way. The password comes from
    /// CARECHAT_STAFF_PASSWORD, or is asked for on standard input.
    Add {
        /// Configuration file; without it the built-in demo clinic's.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
        /// Sign-in name (letters, digits, '.', '_', '-', '@'; lower-cased).
        #[arg(long)]
        username: String,
        /// The name colleagues and patients see.
        #[arg(long)]
        name: String,
        /// front_desk, nurse, compliance or admin.
        #[arg(long, value_parser = parse_role)]
        role: carechat::staff::Role,
    },
    /// List staff accounts.
    List {
        /// Configuration file; without it the built-in demo clinic's.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn parse_role(text: &str) -> Result<carechat::staff::Role, String> {
    carechat::staff::Role::parse(text)
        .ok_or_else(|| "the role is one of front_desk, nurse, compliance, admin".to_owned())
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-wrap every data key under a new master key (generated unless
    /// given) and start a fresh data key; old data stays readable.
    Rotate {
        /// Configuration file; without it the built-in demo clinic's.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
        /// The new master key (32 random bytes in base64, mode 0600).
        /// Required when the current key comes from CARECHAT_MASTER_KEY.
        #[arg(long)]
        new_master_key_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and checkpoint signatures; exit non-zero
    /// naming the first altered, removed or reordered event.
    Verify {
        /// Configuration file; without it the built-in demo clinic's.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Write the log as FHIR R4 AuditEvent resources, one JSON per line.
    Export {
        /// FHIR R4 NDJSON (the only format).
        #[arg(long, required = true)]
        fhir: bool,
        /// Configuration file; without it the built-in demo clinic's.
        #[arg(long, env = "CARECHAT_CONFIG")]
        config: Option<PathBuf>,
        /// Output file; standard output if omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CARECHAT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carechat: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load(config: Option<&PathBuf>) -> anyhow::Result<RawConfig> {
    let mut raw = match config {
        Some(path) => RawConfig::load(path)?,
        None => RawConfig::demo()?,
    };
    raw.apply_env(|name| std::env::var(name).ok())?;
    Ok(raw)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { config, data_dir } => {
            if config.exists() {
                anyhow::bail!(
                    "{} already exists; refusing to overwrite it",
                    config.display()
                );
            }
            let faq = config.with_file_name("faq.toml");
            let key_file = data_dir.join(carechat::server_key::FILE_NAME);
            for path in [&faq, &key_file] {
                if path.exists() {
                    anyhow::bail!(
                        "{} already exists; refusing to overwrite it",
                        path.display()
                    );
                }
            }
            write_new(&config, &init_config_text(&data_dir))?;
            write_new(&faq, carechat::knowledge::DEMO_KNOWLEDGE_TOML)?;
            carechat::private_files::prepare_data_dir(&data_dir)?;
            let key = carechat::server_key::generate(&data_dir)?;
            let public = key.public();
            println!(
                "Wrote {} (production mode: fill in every setting marked FILL IN) and {} (the demo clinic's FAQ: edit every answer for yours).",
                config.display(),
                faq.display()
            );
            println!(
                "Generated the identity key in {} (key id {}).",
                data_dir.display(),
                public.key_id()
            );
            println!(
                "Then `carechat check-config --config {0}` names what is left, and `carechat serve --config {0}` starts.",
                config.display(),
            );
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    config,
                    new_master_key_file,
                },
        } => keys_rotate(config.as_ref(), new_master_key_file.as_deref()),
        Command::Staff { command } => match command {
            StaffCommand::Add {
                config,
                username,
                name,
                role,
            } => staff_add(config.as_ref(), &username, &name, role),
            StaffCommand::List { config } => staff_list(config.as_ref()),
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify { config } => audit_verify(config.as_ref()),
            AuditCommand::Export {
                fhir: _,
                config,
                out,
            } => audit_export(config.as_ref(), out.as_deref()),
        },
        Command::CheckConfig { config: path } => {
            let config = load(Some(&path))?.validate()?;
            config.check_production()?;
            println!("{}: ok ({} mode)", path.display(), config.mode.as_str());
            Ok(())
        }
        Command::Serve {
            config,
            listen,
            data_dir,
            assets_dir,
            public_url,
            demo_site,
            demo_site_dir,
        } => {
            let mut raw = load(config.as_ref())?;
            let demo_site_addr = demo_site
                .map(|a| {
                    a.parse::<std::net::SocketAddr>()
                        .with_context(|| format!("--demo-site {a:?} is not an address:port"))
                })
                .transpose()?;
            raw.apply_overrides(Overrides {
                listen,
                data_dir,
                assets_dir,
                public_url,
                extra_allowed_origins: demo_site_addr
                    .iter()
                    .map(|a| format!("http://{a}"))
                    .collect(),
            });
            let config = raw.validate()?;
            // One decision for serve and check-config.
            config.check_production()?;
            if config.mode == Mode::Demo {
                tracing::warn!("DEMO MODE: the development outbox, the demo EHR and loopback origins are allowed; never use this configuration with real patients");
            } else if demo_site_addr.is_some() {
                anyhow::bail!(
                    "--demo-site serves the demo clinic's web site, which runs only in demo mode (mode = \"demo\" in the configuration); leave it out"
                );
            }
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(serve(config, demo_site_addr, demo_site_dir))
        }
    }
}

/// The file `init` writes: the production template with `data_dir` set to
/// the directory given (when it can be written as TOML).
fn init_config_text(data_dir: &std::path::Path) -> String {
    let default = "data_dir = \"data\"";
    match data_dir.to_str() {
        Some(dir) if dir != "data" => PRODUCTION_CONFIG.replacen(
            default,
            &format!("data_dir = {}", toml::Value::String(dir.to_owned())),
            1,
        ),
        _ => PRODUCTION_CONFIG.to_owned(),
    }
}

/// Writes a new file, refusing to replace one.
fn write_new(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            if path.exists() {
                format!(
                    "{} already exists; refusing to overwrite it",
                    path.display()
                )
            } else {
                format!("cannot write {}", path.display())
            }
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn keys_rotate(config: Option<&PathBuf>, new_key: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = load(config)?.validate()?;
    let storage = &config.storage;
    let rotation = runtime()?.block_on(carechat::store::rotate::rotate(storage, new_key))?;
    println!(
        "Rotated the master key (new fingerprint {}); new data is sealed under data key {}.",
        rotation.fingerprint, rotation.data_key_id
    );
    if rotation.update_env {
        println!(
            "Now set CARECHAT_MASTER_KEY to the contents of {} for every carechat instance and restart them; the old key no longer opens this database.",
            rotation
                .key_file
                .as_deref()
                .map_or_else(|| "the new key file".into(), |p| p.display().to_string())
        );
    } else {
        if let Some(file) = &rotation.key_file {
            println!("The new key is in {}.", file.display());
        }
        if let Some(previous) = &rotation.previous_key_file {
            println!(
                "The old key is in {}: back it up with your backups of the database taken before now, then delete it.",
                previous.display()
            );
        }
        println!("Restart every carechat instance that shares this database.");
    }
    Ok(())
}

fn audit_verify(config: Option<&PathBuf>) -> anyhow::Result<()> {
    let config = load(config)?.validate()?;
    let storage = &config.storage;
    // Checkpoints are verified with the audit signing key, which the store
    // keeps sealed by the master key.
    let report = runtime()?.block_on(async {
        let store = carechat::store::Store::open(storage).await?;
        carechat::open_audit(&config, &store)?
            .verify()
            .await
            .map_err(anyhow::Error::from)
    })?;
    if report.is_intact() {
        println!(
            "audit log intact: {} events, {} signed checkpoints verified",
            report.events, report.checkpoints_verified
        );
        return Ok(());
    }
    if let Some(problem) = &report.first_problem {
        println!("first bad event: {problem}");
    }
    for problem in report
        .problems()
        .iter()
        .skip(usize::from(report.first_problem.is_some()))
    {
        println!("{problem}");
    }
    match &report.first_problem {
        Some(problem) => anyhow::bail!("the audit log is not intact: {problem}"),
        None => anyhow::bail!("the audit log's checkpoints or anchor are not intact"),
    }
}

fn audit_export(config: Option<&PathBuf>, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let config = load(config)?.validate()?;
    let storage = &config.storage;
    let mut writer: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = runtime()?.block_on(async {
        let store = carechat::store::Store::open(storage).await?;
        carechat::audit::fhir::export(&store, &config.clinic.name, &mut writer)
            .await
            .map_err(anyhow::Error::from)
    })?;
    writer.flush()?;
    tracing::info!(
        events = written,
        "exported the audit log as FHIR R4 AuditEvent NDJSON"
    );
    Ok(())
}

/// Opens the configured store and staff accounts (for `carechat staff`).
async fn open_staff(config: &carechat::config::Config) -> anyhow::Result<carechat::staff::Staff> {
    use std::sync::Arc;
    let store = carechat::store::Store::open(&config.storage).await?;
    let audit = carechat::open_audit(config, &store)?;
    Ok(carechat::staff::Staff::new(
        store,
        Arc::new(carechat::clock::SystemClock),
        audit,
        carechat::staff::SessionPolicy::default(),
    )
    .with_issuer(&config.clinic.name))
}

fn read_staff_password() -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(password) = std::env::var("CARECHAT_STAFF_PASSWORD") {
        return Ok(zeroize::Zeroizing::new(password));
    }
    eprint!(
        "Password for the new account (at least {} characters; it is shown as you type): ",
        carechat::staff::MIN_PASSWORD_CHARS
    );
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let trimmed = line.trim_end_matches(['\r', '\n']);
    Ok(zeroize::Zeroizing::new(trimmed.to_owned()))
}

fn staff_add(
    config: Option<&PathBuf>,
    username: &str,
    name: &str,
    role: carechat::staff::Role,
) -> anyhow::Result<()> {
    let config = load(config)?.validate()?;
    let password = read_staff_password()?;
    let account = runtime()?.block_on(async {
        let staff = open_staff(&config).await?;
        staff
            .add(username, name, role, &password)
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!(
        "Created staff account {} ({}, {}), id {}.",
        account.member.username,
        account.member.display_name,
        account.member.role,
        account.member.id
    );
    println!(
        "Add this TOTP secret to the staff member's authenticator app now; it is not shown again:"
    );
    println!("  secret: {}", account.totp_secret_base32);
    println!("  uri:    {}", account.otpauth_uri);
    println!("(The first administrator must be created with this command; administrators manage the rest in the console.)");
    Ok(())
}

fn staff_list(config: Option<&PathBuf>) -> anyhow::Result<()> {
    let config = load(config)?.validate()?;
    let members = runtime()?.block_on(async {
        let staff = open_staff(&config).await?;
        staff.list().await.map_err(anyhow::Error::from)
    })?;
    if members.is_empty() {
        println!("No staff accounts yet: create the first administrator with `carechat staff add --role admin`.");
    }
    for m in members {
        println!("{}\t{}\t{}\t{}", m.id, m.username, m.role, m.display_name);
    }
    Ok(())
}

async fn serve(
    config: carechat::config::Config,
    demo_site: Option<std::net::SocketAddr>,
    demo_site_dir: PathBuf,
) -> anyhow::Result<()> {
    let identity = carechat::open_identity(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let public_url = config.public_url.clone();
    tracing::info!(url = %public_url, clinic = %config.clinic.name, "chat server listening");
    let state = carechat::AppState::open(config, identity).await?;
    let chat = tokio::spawn(carechat::run(state, listener, shutdown_signal()));
    if let Some(addr) = demo_site {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for the demo site"))?;
        tracing::info!(url = %format!("http://{addr}/"), "demo clinic web site: open this in a browser");
        tokio::spawn(carechat::run_demo_site(
            listener,
            demo_site_dir,
            public_url,
            shutdown_signal(),
        ));
    }
    chat.await.context("server task failed")?
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
