import { useCallback, useEffect, useState } from 'react';

const KEY = 'proxyscope.theme';

function systemTheme(): 'light' | 'dark' {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** Follows the system until the user picks one; the pick is remembered. */
export function useTheme(): ['light' | 'dark', () => void] {
  const [picked, setPicked] = useState<'light' | 'dark' | null>(() => {
    try {
      const saved = localStorage.getItem(KEY);
      return saved === 'light' || saved === 'dark' ? saved : null;
    } catch {
      return null;
    }
  });
  const [system, setSystem] = useState(systemTheme);
  useEffect(() => {
    const query = window.matchMedia?.('(prefers-color-scheme: dark)');
    if (!query) return;
    const onChange = () => setSystem(systemTheme());
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, []);
  const theme = picked ?? system;
  useEffect(() => {
    if (picked) document.documentElement.dataset.theme = picked;
    else delete document.documentElement.dataset.theme;
  }, [picked]);
  const toggle = useCallback(() => {
    const next = theme === 'dark' ? 'light' : 'dark';
    setPicked(next);
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // private mode: the pick lasts for this page only
    }
  }, [theme]);
  return [theme, toggle];
}
