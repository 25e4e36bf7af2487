// Termination signals handled on a thread, not in a handler: block SIGTERM/SIGINT in main before
// any thread starts (threads inherit the mask), then wait for one with sigwait.
#ifndef GEARKV_SERVER_SIGNALS_H_
#define GEARKV_SERVER_SIGNALS_H_

namespace gearkv::server {

// Blocks SIGTERM and SIGINT in the calling thread (and every thread it starts afterwards).
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns its number. Call after BlockTerminationSignals.
int WaitForTerminationSignal();

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SIGNALS_H_
