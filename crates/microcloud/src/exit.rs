//! Every exit status of `microcloud`, in one place: README.md's table
//! ("Exit statuses of `microcloud preseed`") lists the same codes with the
//! same meanings, and `tests/exit_table.rs` checks that it does.

use std::process::ExitCode;

/// How the command ended, as its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Formed, already formed, valid, ready: nothing left to do.
    Success,
    /// A step failed (or, for other commands, something could not be done).
    Failed,
    /// Invalid preseed, planning failed, or a pre-flight check failed.
    Invalid,
    /// Interrupted (Ctrl-C).
    Interrupted,
    /// The trust session failed.
    Trust,
    /// Another machine was lost or stopped the run.
    Peer,
    /// A service was not ready in time.
    NotReady,
    /// Another `microcloud preseed` is running on this machine.
    Locked,
}

impl Exit {
    /// Every status, in code order.
    pub const ALL: [Exit; 8] = [
        Exit::Success,
        Exit::Failed,
        Exit::Invalid,
        Exit::Interrupted,
        Exit::Trust,
        Exit::Peer,
        Exit::NotReady,
        Exit::Locked,
    ];

    /// The process exit status.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Invalid => 2,
            Exit::Interrupted => 3,
            Exit::Trust => 4,
            Exit::Peer => 5,
            Exit::NotReady => 6,
            Exit::Locked => 7,
        }
    }

    /// The status for a code (what a joiner is told by the initiator);
    /// `None` for a code this program never uses.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| e.code() == code)
    }

    /// What the status means: the "Meaning" column of README.md's table.
    #[must_use]
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "formed, or already formed",
            Exit::Failed => "a step failed",
            Exit::Invalid => "invalid preseed, planning failed, or a pre-flight check failed",
            Exit::Interrupted => "interrupted",
            Exit::Trust => "the trust session failed",
            Exit::Peer => "another machine was lost or stopped the run",
            Exit::NotReady => "a service was not ready in time",
            Exit::Locked => {
                "another `microcloud preseed` is running on this machine (its PID is named)"
            }
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_in_order() {
        for (i, exit) in Exit::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(exit.code()), i, "{exit:?}");
            assert_eq!(Exit::from_code(exit.code()), Some(exit));
        }
        assert_eq!(Exit::from_code(8), None);
    }
}
