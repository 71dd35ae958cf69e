//! The `xskfwd` binary: parse the command line, run, report errors in one
//! line with what to do — never a panic or a backtrace.

use std::process::ExitCode;

use clap::Parser;
use xskfwd::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => match args.to_config() {
            Ok(config) => xskfwd::app::run(&config, args.netns.as_deref()).map(|s| {
                if s.conserved() {
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "xskfwd: error: frame accounting failed (a bug): see the summary above"
                    );
                    ExitCode::from(3)
                }
            }),
            Err(e) => Err(anyhow::Error::new(e)),
        },
        Command::Lab { action } => xskfwd::demo::lab(action).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => xskfwd::demo::demo(&args).map(|()| ExitCode::SUCCESS),
        Command::Routes(args) => xskfwd::app::routes(&args).map(|()| ExitCode::SUCCESS),
        Command::Gen(args) => args.run().map(|()| ExitCode::SUCCESS),
        Command::Sink(args) => args.run().map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => xskfwd::bench::run(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xskfwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
