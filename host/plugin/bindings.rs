//! The host side of the WIT contract: the only `bindgen!`s in Medic, one set
//! per line of the contract this host serves. Within a line the three worlds
//! share one set of types (`types`) and one `host` import.

/// `instantiate_again` for a world's `Pre`: an instance whose exports are
/// looked up by the indices found when the plugin loaded, without checking
/// their types again. Generated where the world's types are defined, the
/// only place their fields can be reached.
macro_rules! again {
    ($pre:ident, $world:ident, $judge:ident) => {
        impl<T: 'static> $pre<T> {
            /// [`Self::instantiate`] without type-checking the exports:
            /// `bindgen!`'s `instantiate` checks both exports' types against
            /// the contract on every instance, which `strict` isolation
            /// paid on every call (~2% of a kill's CPU in `medic loadtest`).
            /// An export's type is the component's, the same in every
            /// instance of it.
            ///
            /// # Safety
            ///
            /// [`Self::instantiate`] must have succeeded once on this
            /// `Pre` (its component's exports then have the types the
            /// calls assume; the generated calls convert without checking).
            pub unsafe fn instantiate_again(
                &self,
                mut store: impl wasmtime::AsContextMut<Data = T>,
            ) -> wasmtime::Result<$world> {
                let mut store = store.as_context_mut();
                let instance = self.instance_pre.instantiate(&mut store)?;
                let mut export = |index: &wasmtime::component::ComponentExportIndex| {
                    instance.get_func(&mut store, index).ok_or_else(|| {
                        wasmtime::format_err!("an export the component had is missing")
                    })
                };
                let describe = export(&self.indices.describe)?;
                let $judge = export(&self.indices.$judge)?;
                Ok($world { describe, $judge })
            }
        }
    };
}

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
            again!(RiskScorerPre, RiskScorer, score);
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
            again!(StrategyPre, Strategy, decide);
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
            again!(ThresholdLearnerPre, ThresholdLearner, learn);
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
