//! Audit events through `tracing`: [`emit`] sends a typed [`Event`] with target `audit`, and
//! [`AuditLayer`] appends it to the log in the emitting thread, so the record is durable before
//! `emit` returns and the caller acknowledges the action.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

use crate::{AuditError, AuditLog, Event, Record, Result};

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "audit";

/// The field that carries the typed event, as JSON.
const EVENT_FIELD: &str = "audit_event";

thread_local! {
    /// What the layer did with the last audit event this thread emitted.
    static LAST_APPEND: RefCell<Option<Result<Record>>> = const { RefCell::new(None) };
}

/// Records `event` through the installed [`AuditLayer`] and returns the written record.
///
/// Fails when the record could not be made durable, or when no audit layer is installed; the
/// caller must then refuse the action the event describes.
pub fn emit(event: &Event) -> Result<Record> {
    let json = serde_json::to_string(event).expect("events serialise: all fields are plain data");
    LAST_APPEND.with(|last| last.borrow_mut().take());
    tracing::info!(target: AUDIT_TARGET, audit_event = json.as_str());
    LAST_APPEND.with(|last| last.borrow_mut().take()).unwrap_or(Err(AuditError::NotRecorded))
}

/// A `tracing_subscriber` layer that appends every `target: "audit"` event to an [`AuditLog`].
/// Events with that target that are not typed audit events are refused, not written: the log
/// never takes free text.
#[derive(Clone)]
pub struct AuditLayer {
    log: Arc<Mutex<AuditLog>>,
}

impl AuditLayer {
    pub fn new(log: AuditLog) -> AuditLayer {
        AuditLayer { log: Arc::new(Mutex::new(log)) }
    }

    /// The shared log, e.g. to export a checkpoint while the service runs.
    pub fn log(&self) -> Arc<Mutex<AuditLog>> {
        Arc::clone(&self.log)
    }

    fn append(&self, json: Option<String>) -> Result<Record> {
        let json = json.ok_or(AuditError::UntypedEvent)?;
        let event: Event = serde_json::from_str(&json).map_err(|_| AuditError::UntypedEvent)?;
        // A panic elsewhere while holding the lock leaves the log itself consistent: every
        // append either completed or marked the log unusable.
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        log.append(event)
    }
}

impl fmt::Debug for AuditLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditLayer")
    }
}

impl<S: tracing::Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != AUDIT_TARGET {
            return;
        }
        let mut visitor = EventField(None);
        event.record(&mut visitor);
        let outcome = self.append(visitor.0);
        LAST_APPEND.with(|last| *last.borrow_mut() = Some(outcome));
    }
}

/// Picks the typed event out of a tracing event's fields, ignoring everything else.
struct EventField(Option<String>);

impl Visit for EventField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == EVENT_FIELD {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}
