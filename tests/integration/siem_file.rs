//! The `file` SIEM adapter: intel per module, a default, reload on change.

use std::time::Duration;

use medic::enrich::SiemAdapter;
use medic::enrich::file::FileSiem;

use crate::pipeline_support::kill;

#[tokio::test]
async fn intel_is_read_per_module_and_reloaded_when_the_file_changes() {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), "modules:\n  billing:\n    risk_score: 0.9\n    threat_indicators:\n      - {indicator_type: ip, value: 203.0.113.9, threat_score: 0.95, source: intel, last_seen: \"2024-01-15T10:00:00Z\"}\n").unwrap();
    let siem = FileSiem::new(f.path()).unwrap();
    let ctx = siem.query_context(&kill("f-1", "billing")).await.unwrap();
    assert_eq!(ctx.risk_score, 0.9);
    assert_eq!(ctx.threat_indicators.len(), 1);
    assert!(
        siem.query_context(&kill("f-2", "other")).await.is_err(),
        "no intel and no default"
    );

    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        f.path(),
        "default: {risk_score: 0.2}\nmodules:\n  billing: {risk_score: 0.1}\n",
    )
    .unwrap();
    let ctx = siem.query_context(&kill("f-3", "billing")).await.unwrap();
    assert_eq!(ctx.risk_score, 0.1, "reloaded");
    assert_eq!(
        siem.query_context(&kill("f-4", "other"))
            .await
            .unwrap()
            .risk_score,
        0.2
    );

    // A broken file keeps the last good intel.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(f.path(), "modules: [this is not a map").unwrap();
    assert_eq!(
        siem.query_context(&kill("f-5", "billing"))
            .await
            .unwrap()
            .risk_score,
        0.1
    );
    // Out-of-range intel is refused like any SIEM answer.
    assert!(FileSiem::new(std::path::Path::new("/nonexistent/intel.yaml")).is_err());
}

#[tokio::test]
async fn intel_is_checked_like_a_siem_answer_and_filled_in_per_kill() {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        f.path(),
        "modules:\n  billing: {risk_score: 0.4}\n  own: {risk_score: 0.5, query_id: q-7, timestamp: \"2024-01-15T09:00:00Z\"}\n  bad: {risk_score: 1.5}\n",
    )
    .unwrap();
    let siem = FileSiem::new(f.path()).unwrap();
    for id in ["f-10", "f-11"] {
        let k = kill(id, "billing");
        let ctx = siem.query_context(&k).await.unwrap();
        assert_eq!(ctx.kill_id, id);
        assert_eq!(ctx.query_id, format!("intel-file:{id}"));
        assert_eq!(ctx.timestamp, k.timestamp);
        assert_eq!(ctx.risk_score, 0.4);
    }
    let ctx = siem.query_context(&kill("f-12", "own")).await.unwrap();
    assert_eq!(
        (ctx.kill_id.as_str(), ctx.query_id.as_str()),
        ("f-12", "q-7")
    );
    assert_eq!(ctx.timestamp.to_rfc3339(), "2024-01-15T09:00:00+00:00");
    // Out-of-range intel is refused like any SIEM answer, naming the field.
    let err = siem
        .query_context(&kill("f-13", "bad"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("risk_score 1.5 is outside [0, 1]"), "{err}");
}
