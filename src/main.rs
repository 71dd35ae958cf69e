//! The `xskfwd` binary: parse the command line, run, report errors in one
//! line with what to do — never a panic or a backtrace.

#![forbid(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::{Command as Process, ExitCode};

use anyhow::{bail, Context, Result};
use clap::Parser;
use xskfwd::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => match args.to_config() {
            Ok(config) => {
                xskfwd::log::init(args.ops.log_format, args.ops.log_level);
                xskfwd::app::run(&config, args.netns.as_deref(), &args.ops.endpoints()).map(|s| {
                    if s.conserved() {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!(
                            "xskfwd: error: frame accounting failed (a bug): see the summary above"
                        );
                        ExitCode::from(3)
                    }
                })
            }
            Err(e) => Err(anyhow::Error::new(e)),
        },
        Command::Routes(args) => xskfwd::app::routes(&args).map(|()| ExitCode::SUCCESS),
        Command::Status(args) => xskfwd::ops::client::status(&args).map(|()| ExitCode::SUCCESS),
        Command::Trace(args) => xskfwd::ops::client::trace(&args).map(|()| ExitCode::SUCCESS),
        ref tool => {
            let (name, args) = tool.lab_tool().expect("every other command is a lab tool");
            run_lab_tool(name, args)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xskfwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Replaces this process with `xskfwd-lab TOOL ARGS…` from the directory
/// this binary is in (returns only if that fails).
fn run_lab_tool(tool: &str, args: &[String]) -> Result<ExitCode> {
    let me = std::env::current_exe().context("finding the xskfwd binary")?;
    let lab = me.with_file_name("xskfwd-lab");
    if !lab.is_file() {
        bail!(
            "`xskfwd {tool}` is a lab tool of the xskfwd-lab binary, which is not next to {} \
             (build the workspace: cargo build --release)",
            me.display()
        );
    }
    let err = Process::new(&lab).arg(tool).args(args).exec();
    Err(err).with_context(|| format!("starting {}", lab.display()))
}
