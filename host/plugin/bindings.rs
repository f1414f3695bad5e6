//! The host side of the WIT contract: the only `bindgen!` in Medic. The three
//! worlds share one set of types (`types`) and one `host` import.

/// The `risk-scorer` world; also the home of the shared types.
pub mod scorer {
    wasmtime::component::bindgen!({
        world: "risk-scorer",
        path: "../../wit",
    });
}

/// The `strategy` world.
pub mod strategy {
    wasmtime::component::bindgen!({
        world: "strategy",
        path: "../../wit",
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
        path: "../../wit",
        with: {
            "medic:plugin/types": super::scorer::medic::plugin::types,
            "medic:plugin/host": super::scorer::medic::plugin::host,
        },
    });
}

pub use scorer::medic::plugin::host;
pub use scorer::medic::plugin::types;
