//! The status pages' part in a config reload: `/api/v1/status/config`
//! shows the applied config, and `runtimeinfo` when it was loaded.

use std::sync::atomic::Ordering;

use super::StatusInfo;
use crate::config::Config;
use crate::lifecycle::Reloader;

impl Reloader for StatusInfo {
    fn name(&self) -> &'static str {
        "web"
    }

    fn check(&self, _config: &Config) -> Result<(), String> {
        Ok(())
    }

    fn apply(&self, config: &Config) -> Result<(), String> {
        *self.config_yaml.write() = config.to_redacted_yaml();
        *self.last_config_time.write() = chrono::Utc::now().to_rfc3339();
        Ok(())
    }
}

impl StatusInfo {
    /// Records whether the last reload succeeded (`runtimeinfo`'s
    /// `reloadConfigSuccess`).
    pub fn set_reload_success(&self, success: bool) {
        self.reload_success.store(success, Ordering::Relaxed);
    }
}
