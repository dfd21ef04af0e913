import Markdown from 'react-markdown';

/**
 * A step's narration. react-markdown builds React elements, never HTML from the text, and
 * `skipHtml` drops any raw HTML in it: nothing a lesson says can run in the page. Links open
 * in a new tab so the lesson stays where it is.
 */
export function Narration({ text }: { text: string }) {
  return (
    <div className="ps-lesson-narration" data-testid="lesson-narration">
      <Markdown
        skipHtml
        components={{
          a: ({ href, children }) => (
            <a href={href} target="_blank" rel="noreferrer noopener">
              {children}
            </a>
          ),
        }}
      >
        {text}
      </Markdown>
    </div>
  );
}
