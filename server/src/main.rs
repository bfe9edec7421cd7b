//! `carechat`: parses the command line and starts things. Everything else
//! lives in the library (see its `# Layout`).

// A command-line tool answers its user on stdout; logs go to stderr.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context as _;
use carechat::config::{Overrides, RawConfig, DEMO_CONFIG};
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
    /// Serve the chat (the demo clinic unless --config is given).
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
        /// origin, as a real clinic site would be).
        #[arg(long)]
        demo_site: Option<String>,
        /// Folder holding the demo site.
        #[arg(long, default_value = "public/demo-site")]
        demo_site_dir: PathBuf,
    },
    /// Write a documented configuration file to edit and generate the
    /// identity key.
    Init {
        /// Where to write the configuration.
        #[arg(long, default_value = "carechat.toml")]
        config: PathBuf,
        /// Data directory for the identity key.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Check a configuration file and exit.
    CheckConfig {
        /// The file to check.
        #[arg(long)]
        config: PathBuf,
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
            if faq.exists() {
                anyhow::bail!("{} already exists; refusing to overwrite it", faq.display());
            }
            std::fs::write(&config, DEMO_CONFIG)
                .with_context(|| format!("cannot write {}", config.display()))?;
            std::fs::write(&faq, carechat::knowledge::DEMO_KNOWLEDGE_TOML)
                .with_context(|| format!("cannot write {}", faq.display()))?;
            carechat::server_key::create_private_dir(&data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let key = carechat::server_key::generate(&data_dir)?;
            let public = key.public();
            println!(
                "Wrote {} and {} (the demo clinic: edit both for yours).",
                config.display(),
                faq.display()
            );
            println!(
                "Generated the identity key in {} (key id {}).",
                data_dir.display(),
                public.key_id()
            );
            println!(
                "Start with: carechat serve --config {} --data-dir {}",
                config.display(),
                data_dir.display()
            );
            Ok(())
        }
        Command::CheckConfig { config } => {
            load(Some(&config))?.validate()?;
            println!("{}: ok", config.display());
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
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(serve(config, demo_site_addr, demo_site_dir))
        }
    }
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
    let state = carechat::AppState::new(config, identity);
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
