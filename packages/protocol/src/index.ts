export * from './events';
export * from './topology';
export * from './trace-file';
export * from './trace-stream';
export * from './ws-messages';
export * from './event-batch';
export * from './subscription';
export * from './state-fold';
