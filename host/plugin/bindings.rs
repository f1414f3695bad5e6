//! The host side of the WIT contract: the only `bindgen!`s in Medic, one set
//! per line of the contract this host serves. Within a line the three worlds
//! share one set of types (`types`) and one `host` import.

/// Generates one line's three worlds from its WIT directory.
macro_rules! contract_line {
    ($path:literal) => {
        /// The `risk-scorer` world; also the home of the shared types.
        pub mod scorer {
            wasmtime::component::bindgen!({
                world: "risk-scorer",
                path: $path,
            });
        }

        /// The `strategy` world.
        pub mod strategy {
            wasmtime::component::bindgen!({
                world: "strategy",
                path: $path,
                with: {
                    "medic:plugin/types": super::scorer::medic::plugin::types,
                    "medic:plugin/host": super::scorer::medic::plugin::host,
                },
            });
        }

        /// The `threshold-learner` world.
        pub mod learner {
            wasmtime::component::bindgen!({
                world: "threshold-learner",
                path: $path,
                with: {
                    "medic:plugin/types": super::scorer::medic::plugin::types,
                    "medic:plugin/host": super::scorer::medic::plugin::host,
                },
            });
        }

        pub use scorer::medic::plugin::host;
        pub use scorer::medic::plugin::types;
    };
}

/// Contract 0.2 (`wit/`): what the SDK and the built-in plugins implement.
pub mod v0_2 {
    contract_line!("../../wit");
}

/// Contract 0.1 (`wit/v0.1/`, 0.1.0 to 0.1.1): plugins built against it
/// still load, and get the named numbers with their names in every call.
pub mod v0_1 {
    contract_line!("../../wit/v0.1");
}

pub use v0_2::{host, types};
