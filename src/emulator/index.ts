export { startEmulator, fingerprint, type Emulator, type EmulatorOptions, type EmulatorStats, type EmulatorCall, type Counter } from './server.js';
export type { Fault, FaultMatch, FaultStatus, OutcomeFault, RequestFault } from './faults.js';
export { EMULATED_MODELS, ROUTES, BODY_SWAP_WORKFLOW_ID, type EmulatedModel } from './contract.js';
