//! The fields of Alertmanager's time intervals: times, weekdays, months, days of month, years.
#![no_main]
use alertrouter::routing::time_interval::{
    parse_days_of_month, parse_months, parse_time, parse_weekdays, parse_years,
};

libfuzzer_sys::fuzz_target!(|text: &str| {
    for result in [
        parse_time(text).map(|_| ()),
        parse_weekdays(text).map(|_| ()),
        parse_months(text).map(|_| ()),
        parse_days_of_month(text).map(|_| ()),
        parse_years(text).map(|_| ()),
    ] {
        if let Err(e) = result {
            assert!(!e.is_empty());
        }
    }
});
