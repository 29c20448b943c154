//! [`Monitor`]: the name of a value that [`Model::fit`](crate::model::Model::fit) logs each
//! epoch, as a typed key.
//!
//! Callbacks that watch a value ([`EarlyStopping`](crate::callback::EarlyStopping),
//! [`ModelCheckpoint::save_best_only`](crate::callback::ModelCheckpoint::save_best_only)) take
//! a `Monitor` or a string. The built-in keys cannot be misspelt; a name (a string, or a
//! metric of your own) is checked against what the epochs will log when `fit` starts, so a
//! typo is an error before the first epoch, not after it.
//!
//! ```
//! use tapegrad_nn::callback::EarlyStopping;
//! use tapegrad_nn::monitor::Monitor;
//!
//! let stop = EarlyStopping::<f32>::new(Monitor::ValLoss, 3);
//! assert_eq!(Monitor::ValAccuracy.key(), "val_accuracy");
//! assert_eq!(Monitor::from("val_loss"), Monitor::ValLoss);
//! assert_eq!(Monitor::val("auc").key(), "val_auc");
//! ```

use std::fmt;

/// A value logged per epoch: the loss, a metric, or their validation counterparts (`val_`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Monitor {
    /// The training loss, `loss`.
    Loss,
    /// The validation loss, `val_loss`.
    ValLoss,
    /// The training accuracy of [`accuracy_metric`](crate::metric::accuracy_metric),
    /// `accuracy`.
    Accuracy,
    /// The validation accuracy, `val_accuracy`.
    ValAccuracy,
    /// Another metric on the training data, by its [`name`](crate::metric::Metric::name).
    Metric(String),
    /// Another metric on the validation data, by its name without the `val_` prefix.
    ValMetric(String),
}

impl Monitor {
    /// The metric of this name on the training data.
    pub fn metric(name: impl Into<String>) -> Monitor {
        Monitor::parse(&name.into())
    }

    /// The metric of this name (without `val_`) on the validation data.
    pub fn val(name: impl Into<String>) -> Monitor {
        Monitor::parse(&format!("val_{}", name.into()))
    }

    /// The key as it appears in [`Logs`](crate::callback::Logs) and
    /// [`History`](crate::history::History).
    pub fn key(&self) -> String {
        match self {
            Monitor::Loss => "loss".to_string(),
            Monitor::ValLoss => "val_loss".to_string(),
            Monitor::Accuracy => "accuracy".to_string(),
            Monitor::ValAccuracy => "val_accuracy".to_string(),
            Monitor::Metric(name) => name.clone(),
            Monitor::ValMetric(name) => format!("val_{name}"),
        }
    }

    /// Whether the value comes from validation data.
    pub fn is_validation(&self) -> bool {
        matches!(
            self,
            Monitor::ValLoss | Monitor::ValAccuracy | Monitor::ValMetric(_)
        )
    }

    /// The key of a log name: the built-in ones by their variant, others as metrics.
    fn parse(name: &str) -> Monitor {
        match name {
            "loss" => Monitor::Loss,
            "val_loss" => Monitor::ValLoss,
            "accuracy" => Monitor::Accuracy,
            "val_accuracy" => Monitor::ValAccuracy,
            _ => match name.strip_prefix("val_") {
                Some(metric) => Monitor::ValMetric(metric.to_string()),
                None => Monitor::Metric(name.to_string()),
            },
        }
    }

    /// Checks that the epochs will log this value, given the names they log (`loss`, the
    /// metrics, and their `val_` forms when there is validation data).
    pub(crate) fn check(&self, callback: &str, logged: &[String]) -> Result<(), String> {
        let key = self.key();
        if logged.contains(&key) {
            return Ok(());
        }
        let hint = if self.is_validation() && !logged.iter().any(|n| n.starts_with("val_")) {
            "; fit has no validation data: give FitOptions::validation_split or validation_data"
        } else {
            "; check the spelling, or add the metric in compile"
        };
        Err(format!(
            "{callback} monitors '{key}', which the epochs do not log (they log {logged:?}){hint}"
        ))
    }
}

impl From<&str> for Monitor {
    fn from(name: &str) -> Monitor {
        Monitor::parse(name)
    }
}

impl From<String> for Monitor {
    fn from(name: String) -> Monitor {
        Monitor::parse(&name)
    }
}

impl From<&String> for Monitor {
    fn from(name: &String) -> Monitor {
        Monitor::parse(name)
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}
