//! `xskfwd lab ...` and `xskfwd demo`.

use anyhow::Result;

use crate::cli::{DemoArgs, LabAction};

/// Runs a lab action.
pub fn lab(_action: LabAction) -> Result<()> {
    anyhow::bail!("not wired yet")
}

/// Runs the demo.
pub fn demo(_args: &DemoArgs) -> Result<()> {
    anyhow::bail!("not wired yet")
}
