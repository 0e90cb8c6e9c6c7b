pub use idxd_hw as hw;
