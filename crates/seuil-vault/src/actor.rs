use serde::{Deserialize, Serialize};
use std::fmt;

/// Who performs an action. Every read of personal data names one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Actor {
    /// The person the data is about, acting on their own data.
    Subject(String),
    /// A staff member of the operator.
    Operator(String),
    /// A courier, on the deliveries assigned to them.
    Courier(String),
    /// A registered device (lock, camera, scanner).
    Device(String),
    /// Seuil itself: the sweeper, the notifier, erasure.
    System(String),
}

impl Actor {
    pub fn system(task: &str) -> Self {
        Self::System(task.to_owned())
    }
    /// Whether this actor is the subject `subject` acting on their own data.
    pub fn is_subject(&self, subject: &str) -> bool {
        matches!(self, Actor::Subject(s) if s == subject)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Subject(id) => write!(f, "subject:{id}"),
            Actor::Operator(id) => write!(f, "operator:{id}"),
            Actor::Courier(id) => write!(f, "courier:{id}"),
            Actor::Device(id) => write!(f, "device:{id}"),
            Actor::System(id) => write!(f, "system:{id}"),
        }
    }
}
