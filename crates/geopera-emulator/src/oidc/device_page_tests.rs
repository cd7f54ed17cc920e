//! Unit tests of `device_page.rs`.
use super::*;

#[test]
fn a_user_code_cannot_break_out_of_its_attribute() {
    let page = form_page("\"><script>x</script>", None);
    assert!(!page.contains("<script>"));
    assert!(page.contains("&quot;&gt;&lt;script&gt;"));
}
