//! A PostgreSQL database of its own for each test, created on the server
//! at `MEDIC_TEST_POSTGRES` (default: the local server as user
//! `postgres`) and dropped when the test ends, whatever it left.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use medic::store::Store;

use sqlx::Connection;

/// The server tests create their databases on.
fn server() -> String {
    std::env::var("MEDIC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestDatabase {
    name: String,
}

/// Runs `sql` on the server's own database, on a thread of its own (the
/// caller may be inside a runtime).
fn admin(sql: String) {
    run_on(server(), sql)
}

/// Runs `sql` on the database at `server`.
fn run_on(server: String, sql: String) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL does not answer at {server} ({e}). The PostgreSQL tests need a server: \
                     install and start one (Debian: `apt-get install postgresql && service postgresql start`), \
                     or name one in MEDIC_TEST_POSTGRES (a user that may create databases)"
                )
            });
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect(&sql);
        })
    })
    .join()
    .expect("the admin thread");
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("medic_test_{}_{nanos}", std::process::id());
        admin(format!("CREATE DATABASE {name}"));
        TestDatabase { name }
    }

    /// Runs `sql` in this database, as an operator (or a fault) would.
    pub fn execute(&self, sql: &str) {
        run_on(self.url(), sql.to_string())
    }

    /// A store on this database, as one replica connects.
    pub fn store(&self) -> Store {
        Store::connect(&self.url()).unwrap()
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&server()).expect("MEDIC_TEST_POSTGRES is a URL");
        url.set_path(&self.name);
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// The store an engine test runs on: a temporary sled store or, when
/// `MEDIC_TEST_STORE` names a PostgreSQL database (`.ci/run` makes one for
/// the suite's second pass over the engine's tests), a schema of its own
/// in that database, so both stores run the same tests.
pub fn test_store() -> Store {
    match std::env::var("MEDIC_TEST_STORE") {
        Ok(db) if !db.is_empty() => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let schema = format!(
                "t_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            run_on(db.clone(), format!("CREATE SCHEMA {schema}"));
            let mut url = url::Url::parse(&db).expect("MEDIC_TEST_STORE is a URL");
            url.query_pairs_mut()
                .append_pair("options[search_path]", &schema);
            Store::connect(url.as_str()).expect("the PostgreSQL test store")
        }
        _ => Store::temporary().expect("a temporary store"),
    }
}
