// Package wire is the DOIP codec: DOIP 2.0's segments as CNRI's reader and writer parse and
// write them (Reader, Writer, the Request and Response first segments, Status) and BDWare's
// DOIP 2.1 envelope (Envelope, ReadFrame, WriteMessage, Assembler, Message21, the object
// serialization).
//
// A DOIP 2.0 message is a sequence of segments ended by an empty segment:
//
//	message   = *segment "#" WS* LF
//	json-seg  = JSON-text LF "#" WS* LF        ; "#" only counts right after LF
//	bytes-seg = "@" WS* LF *chunk "#" WS* LF
//	chunk     = size WS* LF <size octets> WS* LF   ; decimal, > 0, no leading "0"
//
// where WS is a space, tab or carriage return. The Reader streams: a bytes segment is read
// chunk by chunk, never held whole, and every bound (a JSON segment, a chunk, the segments and
// bytes of a message) is a Limits field. A broken frame is an error wrapping ErrFraming that
// stops the stream (Reader.Err); a JSON segment over its bound wraps ErrTooLarge and is skipped,
// and the stream goes on.
package wire
