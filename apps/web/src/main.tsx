import { createRoot } from 'react-dom/client';
import { App } from './App';
import './app/theme.css';

createRoot(document.getElementById('root')!).render(<App />);
