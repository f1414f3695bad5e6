//! The host side of the WIT contract: the only `bindgen!`s in Medic, one set
//! per line of the contract this host serves. Within a line the three worlds
//! share one set of types (`types`) and one `host` import.

/// Generates one line's three worlds from its WIT directory; `$extra` are
/// the line's own options for the world that generates the shared types.
macro_rules! contract_line {
    ($path:literal $(, $($extra:tt)*)?) => {
        /// The `risk-scorer` world; also the home of the shared types.
        pub mod scorer {
            wasmtime::component::bindgen!({
                world: "risk-scorer",
                path: $path,
                $($($extra)*)?
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

/// Contract 0.3 (`wit/`): what the SDK and the built-in plugins implement.
/// The `kill` resource (`types::Kill`) is a handle to the kill of the call
/// under way, which the host keeps in the store's
/// [`crate::sandbox::HostState`] for the call's length; its methods may trap
/// (a handle with no kill behind it).
pub mod v0_3 {
    contract_line!(
        "../../wit",
        imports: { "medic:plugin/types": trappable },
    );
}

/// Contract 0.2 (`wit/v0.2/`): plugins built against it still load, and get
/// every string of the kill with every call.
pub mod v0_2 {
    contract_line!("../../wit/v0.2");
}

/// Contract 0.1 (`wit/v0.1/`, 0.1.0 to 0.1.1): plugins built against it
/// still load, and get the named numbers with their names in every call.
pub mod v0_1 {
    contract_line!("../../wit/v0.1");
}

pub use v0_3::{host, types};
