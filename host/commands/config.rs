//! `medic config check|show`.

use crate::cli::{ConfigCommand, ConfigFiles};

pub fn run(files: &ConfigFiles, command: &ConfigCommand) -> anyhow::Result<()> {
    let config = super::load_config(files)?;
    match command {
        ConfigCommand::Check => {
            println!(
                "configuration OK: mode {}, active phase {}",
                crate::model::wire::wire_str(&config.medic.mode.current),
                config.active_phase()
            );
        }
        ConfigCommand::Show => {
            println!("# medic.yaml\n{}", serde_yaml::to_string(&config.medic)?);
            println!(
                "# constitution.yaml\n{}",
                serde_yaml::to_string(&config.constitution)?
            );
        }
    }
    Ok(())
}
