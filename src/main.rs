//! `sovereign` binary: parses arguments, sets up logging, runs the command and maps errors to
//! exit codes (0 ok, 1 error, 2 usage). No logic of its own.

use clap::Parser;
use sovereign::cli::{self, Cli, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
