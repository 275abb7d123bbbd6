export * from './client-callbacks';
export * from './message';
export * from './inbound';
export * from './campaign';
