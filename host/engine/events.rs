//! What Medic publishes on `smith.event_bus.events_topic`: one type per
//! kind of event, written as JSON with its `event_type`
//! (docs/reference/protocols.md, "Resurrection events").

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::config::Mode;
use crate::model::{ResurrectionRequest, ResurrectionStatus, WorkflowState};

/// One event on the events stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event_type")]
pub enum Event {
    /// An automatic resurrection's workflow starts (sent once; a request
    /// a person approved starts approved and sends none).
    #[serde(rename = "resurrection.requested")]
    Requested {
        request_id: String,
        decision_id: String,
        target_module: String,
        #[serde(serialize_with = "with_offset")]
        timestamp: DateTime<Utc>,
    },
    /// Every move of a resurrection's workflow, including moves within
    /// one status.
    #[serde(rename = "resurrection.status_changed")]
    StatusChanged {
        request_id: String,
        previous_status: ResurrectionStatus,
        new_status: ResurrectionStatus,
        #[serde(serialize_with = "with_offset")]
        timestamp: DateTime<Utc>,
        metadata: Move,
    },
    /// A burnt error budget stepped the mode down a level.
    #[serde(rename = "mode.demoted")]
    Demoted {
        from: Mode,
        to: Mode,
        failures: usize,
        reason: String,
        at: DateTime<Utc>,
    },
}

/// The workflow move behind a status change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Move {
    pub kill_id: String,
    pub target_module: String,
    pub from_state: WorkflowState,
    pub to_state: WorkflowState,
    pub note: String,
}

impl Event {
    /// `resurrection.requested` for `r`, now.
    pub fn requested(r: &ResurrectionRequest) -> Event {
        Event::Requested {
            request_id: r.request_id.clone(),
            decision_id: r.decision_id.clone(),
            target_module: r.target_module.clone(),
            timestamp: Utc::now(),
        }
    }

    /// `resurrection.status_changed` for `r`, which has just moved from
    /// `from` (status `before`) to its current state, now.
    pub fn moved(
        r: &ResurrectionRequest,
        before: ResurrectionStatus,
        from: WorkflowState,
        note: String,
    ) -> Event {
        Event::StatusChanged {
            request_id: r.request_id.clone(),
            previous_status: before,
            new_status: r.status,
            timestamp: Utc::now(),
            metadata: Move {
                kill_id: r.kill_id.clone(),
                target_module: r.target_module.clone(),
                from_state: from,
                to_state: r.state,
                note,
            },
        }
    }

    /// The `event_type` field's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Requested { .. } => "resurrection.requested",
            Event::StatusChanged { .. } => "resurrection.status_changed",
            Event::Demoted { .. } => "mode.demoted",
        }
    }

    /// The resurrection request it is about; empty for a mode change.
    pub fn request_id(&self) -> &str {
        match self {
            Event::Requested { request_id, .. } | Event::StatusChanged { request_id, .. } => {
                request_id
            }
            Event::Demoted { .. } => "",
        }
    }
}

/// Resurrection events carry their times with a `+00:00` offset, as they
/// always have.
fn with_offset<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_event_is_written_with_its_type_and_fields_as_documented() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T10:30:01.123Z")
            .expect("a time")
            .with_timezone(&Utc);
        let requested = Event::Requested {
            request_id: "r-1".into(),
            decision_id: "d-1".into(),
            target_module: "report-renderer".into(),
            timestamp: at,
        };
        assert_eq!(
            serde_json::to_value(&requested).expect("writes"),
            json!({"event_type": "resurrection.requested", "request_id": "r-1",
                   "decision_id": "d-1", "target_module": "report-renderer",
                   "timestamp": "2026-11-26T10:30:01.123+00:00"})
        );
        assert_eq!(
            (requested.kind(), requested.request_id()),
            ("resurrection.requested", "r-1")
        );
        let moved = Event::StatusChanged {
            request_id: "r-1".into(),
            previous_status: ResurrectionStatus::Approved,
            new_status: ResurrectionStatus::InProgress,
            timestamp: at,
            metadata: Move {
                kill_id: "k-1".into(),
                target_module: "report-renderer".into(),
                from_state: WorkflowState::Approved,
                to_state: WorkflowState::Executing,
                note: "restarting".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&moved).expect("writes"),
            json!({"event_type": "resurrection.status_changed", "request_id": "r-1",
                   "previous_status": "approved", "new_status": "in_progress",
                   "timestamp": "2026-11-26T10:30:01.123+00:00",
                   "metadata": {"kill_id": "k-1", "target_module": "report-renderer",
                                "from_state": "approved", "to_state": "executing",
                                "note": "restarting"}})
        );
        let demoted = Event::Demoted {
            from: Mode::SemiAuto,
            to: Mode::Manual,
            failures: 3,
            reason: "error budget burnt".into(),
            at,
        };
        assert_eq!(
            serde_json::to_value(&demoted).expect("writes"),
            json!({"event_type": "mode.demoted", "from": "semi_auto", "to": "manual",
                   "failures": 3, "reason": "error budget burnt",
                   "at": "2026-11-26T10:30:01.123Z"})
        );
        assert_eq!((demoted.kind(), demoted.request_id()), ("mode.demoted", ""));
    }
}
