//! Deterministic sample values for shapes (placeholder; filled in by the emulator work).
