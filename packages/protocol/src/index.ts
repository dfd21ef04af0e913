export * from './events';
export * from './topology';
export * from './trace-file';
