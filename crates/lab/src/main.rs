//! The `xskfwd-lab` binary: the lab tools (`xskfwd lab|demo|gen|sink|bench|soak`
//! runs it). Errors are one line with what to do.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use xskfwd_lab::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lab { action } => xskfwd_lab::demo::lab(action),
        Command::Demo(args) => xskfwd_lab::demo::demo(&args),
        Command::Gen(args) => args.run(),
        Command::Sink(args) => args.run(),
        Command::Bench(args) => xskfwd_lab::bench::run(&args),
        Command::Soak(args) => xskfwd_lab::soak::run(&args),
        Command::Vm(args) => xskfwd_lab::vm::run_cli(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xskfwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
