package emulator

import (
	"io"
	"net/http"
)

// controlPrefix is where the emulator's own endpoints live. They need no
// signature and no fault applies to them.
const controlPrefix = "/_emulator/"

// serveControl answers the control endpoints:
//
//	GET  /_emulator/stats   Stats as JSON
//	GET  /_emulator/faults  the faults in force as JSON
//	POST /_emulator/faults  change the faults a JSON object names, an
//	                        outage placed from now
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /_emulator/stats":
		writeJSON(w, http.StatusOK, e.Stats())
	case "GET /_emulator/faults":
		writeJSON(w, http.StatusOK, e.Faults())
	case "POST /_emulator/faults":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, badRequest("read faults: %v", err))
			return
		}
		f, err := e.updateFaults(func(f *Faults) error { return f.UnmarshalJSON(body) })
		if err != nil {
			writeError(w, badRequest("faults: %v", err))
			return
		}
		writeJSON(w, http.StatusOK, f)
	default:
		writeError(w, unknownRoute(r.Method, r.URL.Path))
	}
}
