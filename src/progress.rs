//! Progress bars on stderr (indicatif), and the one switch that allows them: [`crate::run`]
//! turns it on only when stderr is a terminal, without `--quiet` and for the text format.
//! Everywhere else a bar is a no-op, so the hooks in the work code cost one line each.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Allows (or forbids) progress bars for the rest of the process.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether progress bars are allowed.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A progress bar; a no-op when bars are off. Shared across threads; cleared when dropped.
#[derive(Debug)]
pub struct Bar(Option<ProgressBar>);

/// A bar labelled `label` (`backup`, `copying`, `hashing`) for `total` steps.
pub fn bar(label: &'static str, total: usize) -> Bar {
    tracing::info!("{label}: {total} file(s)");
    if !enabled() || total == 0 {
        return Bar(None);
    }
    // One set of lines for all bars: a first apply's backup and hashing run side by side.
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    let bar = BARS
        .get_or_init(MultiProgress::new)
        .add(ProgressBar::new(total as u64));
    // The template is a constant that parses; fall back to the default style if not.
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>8} [{bar:32}] {pos}/{len} files ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label);
    Bar(Some(bar))
}

impl Bar {
    /// One step done.
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Whether the bar draws (false when bars are off).
    pub fn is_active(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_is_a_no_op_unless_enabled() {
        // Tests run without a terminal, and nothing here enables bars.
        let bar = bar("hashing", 3);
        assert!(!bar.is_active());
        bar.inc();
        assert!(!super::bar("hashing", 0).is_active());
    }
}
