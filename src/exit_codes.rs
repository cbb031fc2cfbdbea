//! The process exit codes of SPEC §11, in one place.

/// Done, or everything verified.
pub const SUCCESS: u8 = 0;
/// Verification found problems (the tree does not match the patch level).
pub const PROBLEMS: u8 = 1;
/// Bad input or usage; nothing was changed.
pub const BAD_INPUT: u8 = 2;
/// Could not run (lock held, server running, I/O error); the state is left consistent.
pub const CANNOT_RUN: u8 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec() {
        assert_eq!(
            [SUCCESS, PROBLEMS, BAD_INPUT, CANNOT_RUN],
            [0, 1, 2, 3],
            "SPEC §11 fixes these numbers; scripts depend on them"
        );
    }

    #[test]
    fn usage_errors_share_clap_exit_code() {
        // clap exits with 2 on a usage error; that must stay the "bad input" code.
        assert_eq!(i32::from(BAD_INPUT), 2);
    }
}
