//! The crate's error type: every message says what is wrong and what to do about it.

use std::path::PathBuf;

/// Errors returned at the crate boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value or command-line flag is out of range or inconsistent.
    #[error("invalid {key}: {message}")]
    Config {
        /// The config key or flag that is wrong, e.g. `elements[2].distance`.
        key: String,
        /// What was expected.
        message: String,
    },
    /// A data file (IDX images or labels) is malformed.
    #[error("{}: {message}", path.display())]
    Data {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it and what was expected.
        message: String,
    },
    /// A checkpoint cannot be read or does not fit the model.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The GPU could not be used.
    #[error("GPU: {0}")]
    Gpu(String),
    /// A NaN or infinity appeared during training.
    #[error("numerical fault: {0}")]
    Numerical(String),
    /// Training was interrupted (Ctrl-C); a checkpoint was written.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// An external lab in the training loop (`train::lab::Lab`) failed: it raised, timed out or
    /// returned what the trainer cannot use. The message names the lab's method and, from the
    /// trainer, the checkpoint written and how to resume.
    #[error("lab: {0}")]
    Lab(String),
}

impl Error {
    /// Shorthand for [`Error::Config`].
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code the CLI uses for this error: distinct per kind so scripts can tell
    /// them apart.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } => 2,
            Error::Data { .. } => 3,
            Error::Checkpoint { .. } => 4,
            Error::Io { .. } => 5,
            Error::Gpu(_) => 6,
            Error::Numerical(_) => 7,
            Error::Lab(_) => 8,
            Error::Interrupted(_) => 130,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
