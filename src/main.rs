//! The promshard binary: flags and wiring only.

mod flags;
mod node;

use std::process::ExitCode;

use flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    match cli.command {
        None => {
            if let Err(error) = flags::init_logging(&cli.server.log_level, &cli.server.log_format) {
                eprintln!("promshard: {error}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("promshard: cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(node::run(cli.server)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(err = %format!("{error:#}"), "promshard failed");
                    eprintln!("promshard: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(command) => ExitCode::from(run_command(command)),
    }
}

/// Runs a promtool-like subcommand and returns its exit code.
fn run_command(command: Command) -> u8 {
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    match command {
        Command::Check(flags::CheckCommand::Config { files }) => clamp_exit(
            promshard::config::check::check_config_files(&files, &mut stdout, &mut stderr),
        ),
        Command::Check(flags::CheckCommand::Rules { files }) => clamp_exit(
            promshard::config::check::check_rule_files(&files, &mut stdout, &mut stderr),
        ),
        Command::Tsdb(tsdb) => node::run_tsdb_command(tsdb),
        Command::Test(flags::TestCommand::Rules { files }) => clamp_exit(
            promshard::rules::unittest::run_test_files(&files, &mut stdout, &mut stderr),
        ),
        Command::Cluster(flags::ClusterCommand::Ring { config, cluster }) => {
            node::print_cluster_ring(&config, &cluster)
        }
    }
}

fn clamp_exit(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
