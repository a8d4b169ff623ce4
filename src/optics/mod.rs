//! Element physics shared by both backends: f64 transfer functions, lens phases, absorber
//! formulas and sampling diagnostics.

pub mod absorber;
pub mod interferometry;
pub mod lens;
pub mod multiplier;
pub mod propagation;
pub mod slm;

pub use absorber::{Absorber, AbsorberModel};
pub use multiplier::Multiplier;
pub use propagation::{sampling_report, transfer_function, transfer_on_grid, SamplingReport};
pub use slm::{Lut, Response, SlmModel};
