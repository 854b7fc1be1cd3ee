package dwn

import (
	"regexp"
	"strconv"
	"time"
)

// isoInstant is the part of ISO 8601 / RFC 9557 that Temporal.Instant.from reads: a date, a time
// and a UTC offset (required), with an optional bracketed annotation.
var isoInstant = regexp.MustCompile(`^([+-]\d{6}|\d{4})-?(\d{2})-?(\d{2})[Tt ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,]\d{1,9})?)?)?)(\[[^\]]*\])*$`)

// validTimestamp reports whether Temporal.Instant.from(ts) succeeds.
func validTimestamp(ts string) bool {
	m := isoInstant.FindStringSubmatch(ts)
	if m == nil {
		return false
	}
	year, _ := strconv.Atoi(m[1])
	if m[1] == "-000000" {
		return false
	}
	month, _ := strconv.Atoi(m[2])
	day, _ := strconv.Atoi(m[3])
	hour, _ := strconv.Atoi(m[4])
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 {
		return false
	}
	if m[5] != "" {
		if mi, _ := strconv.Atoi(m[5]); mi > 59 {
			return false
		}
	}
	if m[6] != "" {
		if s, _ := strconv.Atoi(m[6]); s > 60 {
			return false
		}
	}
	if m[9] != "" {
		if oh, _ := strconv.Atoi(m[10]); oh > 23 {
			return false
		}
		if m[11] != "" {
			if om, _ := strconv.Atoi(m[11]); om > 59 {
				return false
			}
		}
	}
	// Temporal's range of instants is ±10^8 days around the epoch
	return year > -271821 && year < 275760
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// validateTimestamp is Time.validateTimestamp.
func validateTimestamp(ts string) error {
	if !validTimestamp(ts) {
		return newError(CodeTimestampInvalid, "Invalid timestamp: "+ts)
	}
	return nil
}
