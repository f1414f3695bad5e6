//! `smith`: the event bus Medic reads kills from and the veto protocol.

use crate::raw::{EventBusType, SmithSection};
use crate::units::Unit;
use crate::validate::{Checker, is_safe_name};

impl SmithSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        let bus = &self.event_bus;
        match &bus.url {
            None => {
                c.non_empty("smith.event_bus.host", &bus.host);
                c.check(bus.port != 0, "smith.event_bus.port", "must not be 0");
            }
            Some(url) => c.check(
                matches!(url.scheme(), "redis" | "rediss"),
                "smith.event_bus.url",
                format!("{:?} must start with redis:// or rediss://", url.as_str()),
            ),
        }
        c.non_empty("smith.event_bus.topic", &bus.topic);
        c.non_empty("smith.event_bus.dead_letter_topic", &bus.dead_letter_topic);
        c.check(
            is_safe_name(&bus.consumer_group),
            "smith.event_bus.consumer_group",
            "must be a safe name",
        );
        c.check(
            is_safe_name(&bus.consumer_name),
            "smith.event_bus.consumer_name",
            "must be a safe name",
        );
        c.range("smith.event_bus.batch_size", bus.batch_size, 1, 10_000);
        c.duration_range(
            "smith.event_bus.block_ms",
            bus.block,
            Unit::Millis,
            1,
            60_000,
        );
        c.duration_range(
            "smith.event_bus.claim_idle_ms",
            bus.claim_idle,
            Unit::Millis,
            100,
            86_400_000,
        );
        c.range(
            "smith.event_bus.max_in_flight",
            bus.max_in_flight,
            1,
            100_000,
        );
        c.non_empty("smith.event_bus.response_topic", &bus.response_topic);
        c.non_empty("smith.event_bus.events_topic", &bus.events_topic);
        let veto = &self.veto_protocol;
        // A kill may not make Medic write into a stream that means something
        // else: the kills themselves, dead letters, events, the veto channel.
        let reserved = [
            ("smith.event_bus.topic", &bus.topic),
            ("smith.event_bus.dead_letter_topic", &bus.dead_letter_topic),
            ("smith.event_bus.events_topic", &bus.events_topic),
            ("smith.veto_protocol.notice_topic", &veto.notice_topic),
            ("smith.veto_protocol.response_topic", &veto.response_topic),
        ];
        for (i, pattern) in bus.reply_streams.iter().enumerate() {
            let key = format!("smith.event_bus.reply_streams[{i}]");
            c.check(
                !pattern.is_empty()
                    && pattern.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'*')
                    }),
                &key,
                format!(
                    "{pattern:?} must be a stream name or a pattern of letters, digits, . _ - : and *"
                ),
            );
            for (name, stream) in reserved {
                c.check(
                    !crate::patterns::matches(pattern, stream),
                    &key,
                    format!(
                        "{pattern:?} matches {name} ({stream:?}): a kill could make Medic write there"
                    ),
                );
            }
        }
        if veto.enabled {
            c.check(
                bus.kind == EventBusType::Redis,
                "smith.veto_protocol.enabled",
                "the veto protocol talks to Smith over Redis: needs smith.event_bus.type redis",
            );
            c.non_empty("smith.veto_protocol.notice_topic", &veto.notice_topic);
            c.non_empty("smith.veto_protocol.response_topic", &veto.response_topic);
        }
        c.duration_range(
            "smith.veto_protocol.timeout_seconds",
            veto.timeout,
            Unit::Seconds,
            1,
            600,
        );
    }
}
