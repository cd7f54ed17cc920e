// placeholder until the generator runs
pub mod models {}
pub mod schemas {}
pub mod operations {
    pub static ALL: &[&crate::OperationInfo] = &[];
}
