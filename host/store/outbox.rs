//! Responses waiting to reach Redis: a decision made for a kill that came
//! over HTTP is answered on Smith's response stream too, and that answer is
//! kept here, made durable with the decision, until Redis has it. The
//! publisher takes entries in the order they were put and removes each once
//! its XADD succeeded, so a Redis outage or a restart loses none.

use serde::{Deserialize, Serialize};

use super::{Result, SledStore};

/// One response to publish: the stream it goes to and its fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub stream: String,
    pub kill_id: String,
    pub decision_id: String,
    pub correlation_id: String,
    /// The decision as JSON.
    pub data: String,
}

impl SledStore {
    /// Keeps a response until it is published; returns its place in line.
    pub fn outbox_put(&self, r: &Response) -> Result<u64> {
        let seq = self.next_id()?;
        self.outbox
            .insert(seq.to_be_bytes(), serde_json::to_vec(r)?)?;
        Ok(seq)
    }

    /// The oldest `limit` responses waiting, with their places.
    pub fn outbox_waiting(&self, limit: usize) -> Result<Vec<(u64, Response)>> {
        self.outbox
            .iter()
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                let seq = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .unwrap_or_default();
                Ok((seq, serde_json::from_slice(&v)?))
            })
            .collect()
    }

    /// A response published (or given up on): no longer waiting.
    pub fn outbox_done(&self, seq: u64) -> Result<()> {
        self.outbox.remove(seq.to_be_bytes())?;
        Ok(())
    }

    /// How many responses wait.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(n: u32) -> Response {
        Response {
            stream: "medic.responses".into(),
            kill_id: format!("k-{n}"),
            decision_id: format!("d-{n}"),
            correlation_id: String::new(),
            data: "{}".into(),
        }
    }

    #[test]
    fn responses_wait_in_order_and_survive_a_restart_until_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let first = {
            let s = SledStore::open(&path).unwrap();
            let first = s.outbox_put(&response(1)).unwrap();
            s.outbox_put(&response(2)).unwrap();
            futures_flush(&s);
            first
        };
        let s = SledStore::open(&path).unwrap();
        let waiting = s.outbox_waiting(10).unwrap();
        assert_eq!(
            waiting
                .iter()
                .map(|(_, r)| r.kill_id.as_str())
                .collect::<Vec<_>>(),
            ["k-1", "k-2"]
        );
        assert_eq!(waiting[0].0, first);
        s.outbox_done(first).unwrap();
        assert_eq!(s.outbox_len(), 1);
        assert_eq!(s.outbox_waiting(10).unwrap()[0].1, response(2));
    }

    fn futures_flush(s: &SledStore) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(s.flush())
            .unwrap();
    }
}
